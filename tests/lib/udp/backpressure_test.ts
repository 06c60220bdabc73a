import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { encodeBatch, encodeDatagram, framePrefix } from "../../../lib/udp/datagram_frame.ts";
import { StalledSocket } from "../../_util/stalled_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test("udp relay: datagrams to a /_udp socket that stopped reading are dropped and counted, the socket stays open", async () => {
  await using server = await startServer({ udpMaxBufferedBytes: 256 * 1024 });
  const host = await StalledSocket.open(Number(new URL(server.base).port), "/_udp");
  await host.sendText(JSON.stringify({ type: "create_instance", service: "udp", name: "t" }));
  const created = JSON.parse(await host.readText());
  assert.equal(created.type, "instance_created");

  await using member = await TestSocket.open(server.base.replace("http", "ws") + "/_udp");
  const ack = await member.request({ type: "join_instance", uuid: created.uuid });
  assert.equal(ack.success, true);
  // The host reads nothing more: its TCP buffers fill, then the relay's backlog for it grows.
  const frame = encodeDatagram(framePrefix(created.uuid, ""), 1, new Uint8Array(60_000));
  for (let i = 0; i < 2000 && server.stats.udpDatagramsDropped < 50; i++) {
    member.sendRaw(frame);
    if (i % 20 === 19) await member.expectNothingPending();
  }
  await waitFor(() => server.stats.udpDatagramsDropped >= 50, { timeoutMs: 10_000, what: "drops" });
  assert.equal(server.stats.limitCloses, 0);

  const stats = await (await fetch(`${server.base}/_api/stats`)).json();
  assert.ok(stats.udpDatagramsDropped >= 50);
  host.close();
});

Deno.test("udp relay: a dropped batch frame counts each of its datagrams", async () => {
  await using server = await startServer({ udpMaxBufferedBytes: 256 * 1024 });
  const host = await StalledSocket.open(Number(new URL(server.base).port), "/_udp");
  await host.sendText(JSON.stringify({ type: "create_instance", service: "udp", name: "t" }));
  const created = JSON.parse(await host.readText());

  await using member = await TestSocket.open(server.base.replace("http", "ws") + "/_udp");
  assert.equal((await member.request({ type: "join_instance", uuid: created.uuid })).success, true);
  const before = server.stats.framesIn;
  // Batches of seven datagrams only, until the host's backlog (it never reads) drops some.
  const entries = [1, 2, 3, 4, 5, 6, 7].map((flow) => ({ flow, datagram: new Uint8Array(9000) }));
  const batch = encodeBatch(framePrefix(created.uuid, ""), entries);
  let sent = 0, pings = 0;
  while (sent < 2000 && server.stats.udpDatagramsDropped === 0) {
    member.sendRaw(batch);
    if (++sent % 20 === 0) await member.expectNothingPending(), pings++;
  }
  // Every frame read (each expectNothingPending sends one ping): the count is final.
  await waitFor(() => server.stats.framesIn === before + sent + pings, {
    timeoutMs: 10_000,
    what: "every frame read",
  });
  const dropped = server.stats.udpDatagramsDropped;
  assert.ok(dropped > 0);
  assert.equal(dropped % 7, 0, `${dropped} dropped: whole batches of seven`);
  host.close();
});
