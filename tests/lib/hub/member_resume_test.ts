/**
 * A member's own secret (the `resume` of its join `ack`): with `rejoin` it takes the member's
 * place back at once while the server still counts the old connection (a half-open socket, a
 * crashed isolate), on the owner's isolate and from another one; nothing else does.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";
import type { BridgeMessage } from "../../../lib/bridge/bridge.ts";
import { BroadcastChannelBridge } from "../../../lib/bridge/broadcast_channel_bridge.ts";
import { unpack } from "../../../lib/cluster/wire.ts";

/** `socket` rejoins `uuid` as ann with `resume`; the answer. */
function rejoin(socket: TestSocket, uuid: string, resume: unknown) {
  return socket.request({ type: "join_instance", uuid, userId: "ann", rejoin: true, resume });
}

Deno.test("member resume: a rejoin with the member's secret takes its place from a connection that still counts", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using old = await TestSocket.open(server.wsUrl);
  const { uuid } = await createRoom(host);
  const first = await joinRoom(host, old, uuid, "ann");

  await using again = await TestSocket.open(server.wsUrl);
  const back = await rejoin(again, uuid, first.resume);
  assert.deepEqual([back.success, back.userId], [true, "ann"]);
  assert.notEqual(back.resume, first.resume, "a new secret with each ack");
  assert.deepEqual(await old.next(), {
    type: "kicked",
    uuid,
    reason: "rejoined from another connection",
  });
  await host.expectNothingPending(); // the member never left, as far as the host knows

  host.send({ type: "note", uuid, n: 1 });
  assert.equal((await again.next()).n, 1);
  again.send({ type: "note", uuid, n: 2 });
  const got = await host.next();
  assert.deepEqual([got.n, got.from], [2, "ann"]);
  await old.expectNothingPending();
  const listed = await (await fetch(`${server.base}/_api/instances`)).json();
  assert.equal(listed[0].members, 1);
});

Deno.test("member resume: a wrong, missing or spent secret, or no rejoin, is user_id_taken", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  await using member = await TestSocket.open(server.wsUrl);
  const { uuid } = await createRoom(host);
  const first = await joinRoom(host, member, uuid, "ann");
  await using other = await TestSocket.open(server.wsUrl);
  const attempts = [
    { rejoin: true, resume: "guess" },
    { rejoin: true },
    { resume: first.resume },
  ];
  for (const extra of attempts) {
    const ack = await other.request({ type: "join_instance", uuid, userId: "ann", ...extra });
    assert.deepEqual([ack.success, ack.error], [false, "user_id_taken"], JSON.stringify(extra));
  }
  // Once used, a secret is spent: the ack that took the place back carries the next one.
  const took = await rejoin(other, uuid, first.resume);
  assert.equal(took.success, true);
  await using third = await TestSocket.open(server.wsUrl);
  const spent = await rejoin(third, uuid, first.resume);
  assert.deepEqual([spent.success, spent.error], [false, "user_id_taken"]);
  const next = await rejoin(third, uuid, took.resume);
  assert.equal(next.success, true);
});

/** A BroadcastChannel bridge that keeps the text of every envelope it sends. */
class RecordingBridge extends BroadcastChannelBridge {
  constructor(namespace: string, readonly sent: string[]) {
    super(namespace);
  }
  override post(isolate: string, envelope: BridgeMessage): void {
    this.sent.push(JSON.stringify(unpack(envelope)));
    super.post(isolate, envelope);
  }
  override broadcast(envelope: BridgeMessage): void {
    this.sent.push(JSON.stringify(unpack(envelope)));
    super.broadcast(envelope);
  }
}

Deno.test("member resume: across isolates the secret never crosses (a proof does); a wrong one is refused", async () => {
  await using cluster = await startCluster(0);
  const sent: string[] = [];
  const add = () => cluster.add({}, new RecordingBridge(cluster.namespace, sent));
  const [owner, a, b] = [await add(), await add(), await add()];
  await using host = await TestSocket.open(owner.wsUrl);
  await using old = await TestSocket.open(a.wsUrl);
  const { uuid } = await createRoom(host);
  const first = await joinRoom(host, old, uuid, "ann");

  await using thief = await TestSocket.open(b.wsUrl);
  const refused = await rejoin(thief, uuid, "guess");
  assert.deepEqual([refused.success, refused.error], [false, "user_id_taken"]);

  await using again = await TestSocket.open(b.wsUrl);
  const back = await rejoin(again, uuid, first.resume);
  assert.deepEqual([back.success, back.userId], [true, "ann"]);
  assert.equal((await old.next()).type, "kicked");
  await host.expectNothingPending();
  host.send({ type: "note", uuid, n: 1 });
  assert.equal((await again.next()).n, 1);
  again.send({ type: "note", uuid, n: 2 });
  const got = await host.next();
  assert.deepEqual([got.n, got.from], [2, "ann"]);
  await old.expectNothingPending();
  assert.ok(sent.some((text) => text.includes('"k":"req"')), "the joins crossed the bridge");
  for (const secret of [first.resume, back.resume]) {
    assert.ok(typeof secret === "string" && secret.length >= 32);
    assert.ok(!sent.some((text) => text.includes(secret)), "no member secret on the bridge");
  }
});
