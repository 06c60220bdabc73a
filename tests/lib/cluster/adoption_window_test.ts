/**
 * The moment between an adoption's directory write and the instance being set up on the adopting
 * isolate: the directory already names the new owner, so a member on a third isolate that joins
 * then is forwarded there. Its join must wait for the adoption, not find the instance unknown.
 * The adopting isolate's directory takes 300 ms between its write and its answer, so the moment
 * is wide enough to land in every run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { KvDirectory } from "../../../lib/bridge/kv_directory.ts";
import type { InstanceRecord } from "../../../lib/bridge/directory.ts";
import { startCluster } from "../../_util/cluster/cluster.ts";
import { createRoom, TestSocket } from "../../_util/test_socket.ts";

/** A real KV directory whose adoptions answer `lagMs` after they are written. */
class SlowToAnswerAdoptions extends KvDirectory {
  written = Promise.withResolvers<void>();
  constructor(kv: Deno.Kv, namespace: string, readonly lagMs: number) {
    super(kv, namespace);
  }
  override async adopt(record: InstanceRecord, previousOwner: string): Promise<boolean> {
    const won = await super.adopt(record, previousOwner);
    this.written.resolve();
    await new Promise((resolve) => setTimeout(resolve, this.lagMs));
    return won;
  }
}

Deno.test("a join forwarded to an isolate whose adoption of the room is under way waits for it", async () => {
  await using cluster = await startCluster(0, { hostGraceMs: 60_000 });
  const owner = await cluster.add();
  const directory = new SlowToAnswerAdoptions(cluster.kv, cluster.namespace, 300);
  const adopter = await cluster.add({}, undefined, undefined, { directory });
  const third = await cluster.add();

  const host = await TestSocket.open(owner.wsUrl);
  const room = await createRoom(host, { token: "pw" });
  await owner.drain(Date.now() + 1000);
  await host.closed;

  await using host2 = await TestSocket.open(adopter.wsUrl);
  await using member = await TestSocket.open(third.wsUrl);
  const resumed = host2.request({ type: "resume_instance", uuid: room.uuid, resume: room.resume });
  await directory.written.promise; // the directory names the adopter; the room is not there yet
  const joined = await member.request({
    type: "join_instance",
    uuid: room.uuid,
    userId: "bob",
    token: "pw",
  });
  assert.equal((await resumed).type, "instance_resumed");
  assert.deepEqual([joined.type, joined.success, joined.error], ["ack", true, undefined]);
  assert.deepEqual(await host2.next(), {
    type: "client_connected",
    uuid: room.uuid,
    userId: "bob",
  });
});
