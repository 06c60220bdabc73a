/**
 * The relay counts the UDP tunnel frames it hands to `/_udp` sockets (`wstun_udp_frames_total`):
 * one per frame, whether it carries one datagram or a batch; binary frames to `/_ws` sockets are
 * not UDP frames.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BinaryKind, encodeBinaryHeader } from "../../../lib/binary_frame.ts";
import { encodeBatch, encodeDatagram, framePrefix } from "../../../lib/udp/datagram_frame.ts";
import { parsePrometheus, promValue } from "../../_util/prometheus_text.ts";
import { startServer } from "../../_util/server.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

Deno.test("udp relay: every frame delivered to a /_udp socket is counted once, batches too", async () => {
  await using server = await startServer({ metricsToken: "scrape" });
  const udpUrl = server.base.replace("http", "ws") + "/_udp";
  await using host = await TestSocket.open(udpUrl);
  await using member = await TestSocket.open(udpUrl);
  const { uuid } = await createRoom(host, { service: "udp" });
  assert.equal((await member.request({ type: "join_instance", uuid })).success, true);
  assert.equal((await host.next()).type, "client_connected");
  const toHost = framePrefix(uuid, "");
  const datagram = new Uint8Array(100);
  member.sendRaw(encodeDatagram(toHost, 1, datagram));
  member.sendRaw(encodeBatch(toHost, [1, 2, 3].map((flow) => ({ flow, datagram }))));
  member.sendRaw(encodeDatagram(toHost, 2, datagram));
  for (let i = 0; i < 3; i++) await host.nextBinary();
  host.sendRaw(encodeDatagram(framePrefix(uuid, ""), 1, datagram));
  await member.nextBinary();

  // Binary frames between /_ws sockets are not UDP frames.
  await using wsHost = await TestSocket.open(server.wsUrl);
  await using wsMember = await TestSocket.open(server.wsUrl);
  const room = await createRoom(wsHost);
  await joinRoom(wsHost, wsMember, room.uuid, "bob");
  const header = encodeBinaryHeader(BinaryKind.InstanceData, room.uuid, "");
  wsMember.sendRaw(new Uint8Array([...header, 1, 2, 3]));
  await wsHost.nextBinary();

  assert.equal(server.stats.udpFrames, 4);
  const response = await fetch(`${server.base}/metrics`, {
    headers: { authorization: "Bearer scrape" },
  });
  const families = parsePrometheus(await response.text());
  assert.equal(promValue(families, "wstun_udp_frames_total"), 4);
  assert.equal(promValue(families, "wstun_frames_total", { kind: "binary", direction: "out" }), 5);
});
