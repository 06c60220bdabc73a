import assert from "node:assert/strict";
import { encodeBinaryHeader } from "../../../lib/binary_frame.ts";
import {
  datagramCount,
  decodeTunnelFrame,
  encodeBatch,
  encodeDatagram,
  framePrefix,
  MAX_DATAGRAM_BYTES,
} from "../../../lib/udp/datagram_frame.ts";
import { formatServerId, parseServerId } from "../../../lib/udp/server_id.ts";
import { backoffDelay } from "../../../lib/udp/backoff.ts";

Deno.test("udp framing: one datagram is one frame, header then 5-byte UDP header, bytes intact", () => {
  const datagram = new Uint8Array(MAX_DATAGRAM_BYTES).map((_, i) => i & 0xff);
  const frame = encodeDatagram(framePrefix("01ABC", "user-1"), 0xfffffffe, datagram);
  assert.equal(frame.length, 3 + 5 + 6 + 5 + MAX_DATAGRAM_BYTES);
  const decoded = decodeTunnelFrame(frame);
  assert.ok(typeof decoded !== "string");
  assert.deepEqual([decoded.uuid, decoded.from], ["01ABC", "user-1"]);
  assert.deepEqual(decoded.datagrams, [{ flow: 0xfffffffe, datagram }]);
  const empty = decodeTunnelFrame(encodeDatagram(framePrefix("u", ""), 1, new Uint8Array(0)));
  assert.ok(typeof empty !== "string" && empty.datagrams[0].datagram.length === 0);
});

Deno.test("udp framing: a batch frame carries datagrams of several flows in order, each whole, empty ones too", () => {
  const entries = [
    { flow: 1, datagram: new Uint8Array([1, 2, 3]) },
    { flow: 7, datagram: new Uint8Array(0) },
    { flow: 1, datagram: new Uint8Array(MAX_DATAGRAM_BYTES).fill(9) },
  ];
  const frame = encodeBatch(framePrefix("01ABC", "user-1"), entries);
  const decoded = decodeTunnelFrame(frame);
  assert.ok(typeof decoded !== "string");
  assert.deepEqual(decoded.datagrams, entries);
  assert.equal(datagramCount(frame.subarray(3 + 5 + 6)), 3);
  assert.match(decodeTunnelFrame(frame.subarray(0, frame.length - 1)) as string, /longer than/);
  assert.match(decodeTunnelFrame(frame.subarray(0, 3 + 5 + 6 + 1 + 4)) as string, /cut short/);
});

Deno.test("udp framing: malformed frames are described, not thrown", () => {
  const header = encodeBinaryHeader(0x01, "u", "host");
  assert.match(decodeTunnelFrame(header) as string, /5-byte UDP header/);
  const channel = new Uint8Array([...encodeBinaryHeader(0x02, "c", ""), 1, 0, 0, 0, 1]);
  assert.match(decodeTunnelFrame(channel) as string, /kind 2 is not UDP data/);
  assert.match(decodeTunnelFrame(new Uint8Array([1])) as string, /shorter/);
  const unknown = new Uint8Array([...encodeBinaryHeader(0x01, "u", "host"), 9, 0, 0, 0, 1]);
  assert.match(decodeTunnelFrame(unknown) as string, /op 9 is not known/);
});

Deno.test("udp Server IDs: uuid.secret round trip; anything else gets a message", () => {
  const id = { uuid: "01JDQ7ZK3M6W8Y0B2C4D6F8G9H", secret: "3x4wrP8nqDGrAA52lDaG9A" };
  assert.deepEqual(parseServerId(` ${formatServerId(id)}\n`), id);
  for (const bad of ["", "01JDQ", "a.short", "a b.3x4wrP8nqDGrAA52lDaG9A"]) {
    assert.equal(typeof parseServerId(bad), "string", bad);
  }
});

Deno.test("udp backoff: doubles from the initial delay, capped, jittered within [cap/2, cap]", () => {
  const o = { initialMs: 100, maxMs: 1000 };
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, o, () => 1)), [
    100,
    200,
    400,
    800,
    1000,
  ]);
  assert.equal(backoffDelay(3, o, () => 0), 400);
});
