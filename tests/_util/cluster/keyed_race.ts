/**
 * Two isolates creating the same new keys at the same moment (the race `Directory.claim` closes):
 * shared by the KV (BroadcastChannel cluster) and Redis tests.
 */
import assert from "node:assert/strict";
import type { Hub } from "../../../lib/hub/hub.ts";
import { type Frame, TestSocket } from "../test_socket.ts";

/**
 * Sends `create_instance` for six fresh keys from a socket on each server at once, and checks
 * that every key ends as one instance on one isolate: one socket got `instance_created`, the other
 * took it over (`instance_resumed`), and the creator was told `resumed_elsewhere`.
 */
export async function raceKeyedCreates(
  a: { wsUrl: string; hub: Hub },
  b: { wsUrl: string; hub: Hub },
): Promise<void> {
  await using onA = await TestSocket.open(a.wsUrl);
  await using onB = await TestSocket.open(b.wsUrl);
  const keys = Array.from({ length: 6 }, (_, i) => `racing-key-${i}-${crypto.randomUUID()}`);
  for (const socket of [onA, onB]) {
    keys.forEach((key, i) =>
      socket.send({ type: "create_instance", service: "chat", name: "Room", key, ref: `k${i}` })
    );
  }
  /** Each socket's answers by ref, and the `instance_closed` frames that came meanwhile. */
  async function answersOf(socket: TestSocket) {
    const answers = new Map<string, Frame>();
    const closed: Frame[] = [];
    while (answers.size < keys.length) {
      const frame = await socket.next();
      if (frame.type === "instance_closed") closed.push(frame);
      else answers.set(String(frame.ref), frame);
    }
    return { answers, closed };
  }
  const [fromA, fromB] = [await answersOf(onA), await answersOf(onB)];
  keys.forEach((_, i) => {
    const pair = [fromA.answers.get(`k${i}`)!, fromB.answers.get(`k${i}`)!];
    assert.deepEqual(pair.map((f) => f.type).sort(), ["instance_created", "instance_resumed"]);
    const uuid = pair[0].uuid;
    assert.equal(pair[1].uuid, uuid);
    const holders = [a, b].filter((s) => s.hub.instances.has(uuid));
    assert.equal(holders.length, 1, `${uuid} is held by ${holders.length} isolates`);
  });
  for (const [socket, got] of [[onA, fromA], [onB, fromB]] as const) {
    const created = [...got.answers.values()].filter((f) => f.type === "instance_created");
    while (got.closed.length < created.length) got.closed.push(await socket.next());
    assert.deepEqual(
      got.closed.map((f) => `${f.type} ${f.uuid} ${f.reason}`).sort(),
      created.map((f) => `instance_closed ${f.uuid} resumed_elsewhere`).sort(),
    );
  }
}
