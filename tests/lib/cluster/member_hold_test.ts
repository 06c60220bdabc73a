/**
 * A members' isolate drains while the room's owner stays (lib/cluster/member_hold.ts and the
 * owner's held memberships, lib/hub/hub.ts): the host on isolate O streams numbered broadcasts,
 * its members are libwstun clients on isolate X behind a load balancer (a TCP proxy); X drains,
 * the balancer sends them to another isolate, and they rejoin there. Every member gets every
 * note exactly once, in order; what the owner could not hold is told (`missed_frames`); a member
 * who never comes back is announced gone once its hold is over.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BridgedServer, serversOn, startCluster } from "../../_util/cluster/cluster.ts";
import { redisAvailable } from "../../_util/redis_server.ts";
import { SwitchProxy } from "../../_util/switch_proxy.ts";
import { noteTaker, sendNotes } from "../../_util/restartable_server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { WSTunClient } from "../../../static/libwstun.js";

const redisEnabled = await redisAvailable();
const port = (server: BridgedServer) => Number(new URL(server.base).port);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A host on `url` that records its members' comings and goings. */
async function hostOn(url: string) {
  const client = new WSTunClient({ url, minBackoffMs: 100, maxBackoffMs: 500 });
  const seen: string[] = [];
  for (const type of ["client_connected", "client_disconnected"]) {
    client.on(type, (f: { userId: string }) => seen.push(`${type} ${f.userId}`));
  }
  await client.connect();
  const room = await client.createInstance({ service: "chat", name: "R", token: "pw" });
  return { client, seen, uuid: room.uuid as string };
}

for (const bridge of ["broadcast_channel", "redis"] as const) {
  for (const back of ["a third isolate", "the owner"] as const) {
    Deno.test({
      name: `member hold (${bridge}): the members' isolate drains, they come back on ${back}; ` +
        "every note once, in order",
      ignore: bridge === "redis" && !redisEnabled,
      async fn() {
        const { servers: [owner, drained, third], close } = await serversOn(bridge, 3, {
          hostGraceMs: 20_000,
        });
        await using proxy = SwitchProxy.start(port(drained));
        const host = await hostOn(owner.base);
        const ann = noteTaker(proxy.url);
        const bob = noteTaker(proxy.url);
        try {
          for (const [m, userId] of [[ann, "ann"], [bob, "bob"]] as const) {
            await m.client.connect();
            await m.client.joinInstance({ uuid: host.uuid, userId, token: "pw" });
          }
          await waitFor(() => host.seen.length === 2, { what: "both members joined" });
          const total = 400;
          const sending = sendNotes(host.client, host.uuid, 0, total, 3);
          await waitFor(() => ann.notes.length >= 40 && bob.notes.length >= 40, {
            timeoutMs: 10_000,
            what: "notes before the drain",
          });
          proxy.backend = port(back === "the owner" ? owner : third);
          await drained.drain(Date.now() + 3000);
          await sending;
          await waitFor(() => ann.notes.length >= total && bob.notes.length >= total, {
            timeoutMs: 10_000,
            what: `every note after the drain (ann ${ann.notes.length}, bob ${bob.notes.length})`,
          });
          await new Promise((r) => setTimeout(r, 100)); // nothing more (no duplicate) comes
          assert.deepEqual(ann.notes, range(total));
          assert.deepEqual(bob.notes, range(total));
          assert.ok(ann.events.some((e) => e.type === "reconnect"), "ann reconnected");
          // The host never saw its members go: their places were held for them.
          assert.deepEqual(host.seen, ["client_connected ann", "client_connected bob"]);
        } finally {
          host.client.close();
          ann.client.close();
          bob.client.close();
          await close();
        }
      },
    });
  }
}

Deno.test("member hold: past WSTUN_REJOIN_HOLD_BYTES the returning member is told missed_frames", async () => {
  await using cluster = await startCluster(3, { hostGraceMs: 20_000, rejoinHoldBytes: 200 });
  const [owner, drained, third] = cluster.servers;
  await using host = await TestSocket.open(owner.wsUrl);
  const created = await host.request({ type: "create_instance", service: "chat", name: "R" });
  const uuid = created.uuid as string;
  const member = await TestSocket.open(drained.wsUrl);
  const ack = await member.request({ type: "join_instance", uuid, userId: "ann" });
  assert.equal(ack.success, true);
  await host.next(); // client_connected ann

  const draining = drained.drain(Date.now() + 2000);
  assert.equal((await member.next()).type, "draining");
  await member.close();
  // Held now: 10 broadcasts of ~50 bytes, of which the first few fit in 200 bytes.
  for (let n = 0; n < 10; n++) host.send({ type: "note", uuid, n, pad: "x".repeat(20) });
  await host.expectNothingPending();

  await using again = await TestSocket.open(third.wsUrl);
  // Knowing the userId is not enough to take a held place: the member's own secret is.
  for (const resume of [undefined, "guess"]) {
    const stolen = await again.request({
      type: "join_instance",
      uuid,
      userId: "ann",
      rejoin: true,
      resume,
    });
    assert.deepEqual([stolen.success, stolen.error], [false, "user_id_taken"], `${resume}`);
  }
  const rejoined = await again.request({
    type: "join_instance",
    uuid,
    userId: "ann",
    rejoin: true,
    resume: ack.resume,
  });
  assert.deepEqual([rejoined.type, rejoined.success], ["ack", true]);
  const got: number[] = [];
  let frame = await again.next();
  while (frame.type === "note") {
    got.push(frame.n as number);
    frame = await again.next();
  }
  assert.ok(got.length > 0 && got.length < 10, `some held: ${got}`);
  assert.deepEqual(got, range(got.length));
  assert.deepEqual([frame.type, frame.code, frame.lost], [
    "error",
    "missed_frames",
    10 - got.length,
  ]);
  host.send({ type: "note", uuid, n: 10 });
  assert.equal((await again.next()).n, 10, "then live traffic");
  await draining;
});

Deno.test("member hold: a held member who never comes back is announced gone once the hold is over", async () => {
  await using cluster = await startCluster(2, { hostGraceMs: 20_000, rejoinHoldMs: 400 });
  const [owner, drained] = cluster.servers;
  await using host = await TestSocket.open(owner.wsUrl);
  const created = await host.request({ type: "create_instance", service: "chat", name: "R" });
  const uuid = created.uuid as string;
  const member = await TestSocket.open(drained.wsUrl);
  await member.request({ type: "join_instance", uuid, userId: "ann" });
  assert.equal((await host.next()).type, "client_connected");

  const began = Date.now();
  const draining = drained.drain(Date.now() + 2000);
  assert.equal((await member.next()).type, "draining");
  await member.close();
  await draining;
  const gone = await host.next(3000);
  const after = Date.now() - began;
  assert.deepEqual(gone, {
    type: "client_disconnected",
    uuid,
    userId: "ann",
    reason: "disconnected",
  });
  assert.ok(after >= 350, `announced after the hold (${after} ms), not at the drain`);
  const listed = await (await fetch(`${owner.base}/_api/instances`)).json();
  assert.equal(listed[0].members, 0);
});
