/**
 * Test-only, run by bridge_spans_test.ts as its own process with `OTEL_DENO=true`: two isolates
 * in this process (tests/_util/cluster/cluster.ts) make the cross-isolate requests whose spans the test
 * expects — a join answered, a join refused here, a join the owner never answers, a keyed create
 * claimed by both — then close, which exports the spans.
 *
 * @module
 */
import { createRoom, joinRoom, TestSocket } from "../test_socket.ts";
import { startCluster } from "./cluster.ts";
import { LossyBridge } from "./lossy_bridge.ts";

const NO_SUCH = "01NOSUCHINSTANCE000000000";
const KEY = "Vq3xL9pTz0aR7mWc2eYh5K-spans";

const cluster = await startCluster(1, { logLevel: "error" });
const [a] = cluster.servers;
const lossy = new LossyBridge(cluster.namespace);
const b = await cluster.add({}, lossy);
const host = await TestSocket.open(a.wsUrl);
const bob = await TestSocket.open(b.wsUrl);
const { uuid } = await createRoom(host);
await joinRoom(host, bob, uuid, "bob");
await bob.request({ type: "join_instance", uuid: NO_SUCH, userId: "bob" });
lossy.dropPosts = 1; // the next join never reaches its owner
const carol = await TestSocket.open(b.wsUrl);
await carol.request({ type: "join_instance", uuid, userId: "carol" });
// Fresh sockets: the host hears of the lost join as bridge_gap.
const keyedA = await TestSocket.open(a.wsUrl);
const keyedB = await TestSocket.open(b.wsUrl);
await createRoom(keyedA, { key: KEY });
await keyedB.request({ type: "create_instance", service: "chat", name: "Room", key: KEY });
for (const socket of [host, bob, carol, keyedA, keyedB]) await socket.close();
await cluster.close();
console.log("probe done");
