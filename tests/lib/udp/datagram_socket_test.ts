import assert from "node:assert/strict";
import { DatagramSocket, endpoint } from "../../../lib/udp/datagram_socket.ts";
import { datagramFor, GAME_SIZES } from "../../_util/udp/fixture.ts";
import { waitFor } from "../../_util/wait_for.ts";

Deno.test("udp socket: bursts of mixed sizes, sent without waiting, arrive in the order they were sent", async () => {
  const from = DatagramSocket.bind("127.0.0.1", 0);
  const to = DatagramSocket.bind("127.0.0.1", 0);
  const arrived: number[] = [];
  to.onDatagram = (data) =>
    arrived.push(
      data.length >= 5 ? new DataView(data.buffer, data.byteOffset).getUint32(0) : -data.length,
    );
  const target = endpoint("127.0.0.1", to.port);
  // Each burst stays under the kernel's default receive buffer, so nothing is dropped: any
  // difference from the sent sequence is a reordering.
  const sizes = GAME_SIZES.filter((s) => s <= 1400);
  const expected: number[] = [];
  for (let burst = 0, i = 0; burst < 100; burst++) {
    for (let k = 0; k < 48; k++, i++) {
      const size = sizes[i % sizes.length];
      expected.push(size >= 5 ? i : -size);
      assert.ok(from.send(datagramFor(i, 1, size), target));
    }
    await waitFor(() => arrived.length === expected.length, { what: `burst ${burst}` });
  }
  assert.deepEqual(arrived, expected);
  assert.equal(from.sendErrors, 0);

  await from.close();
  await to.close();
});

Deno.test("udp socket: the send queue is bounded in bytes; over it, and after close, send says no", async () => {
  const from = DatagramSocket.bind("127.0.0.1", 0, { maxQueuedBytes: 150_000 });
  const to = DatagramSocket.bind("127.0.0.1", 0);
  const target = endpoint("127.0.0.1", to.port);
  const big = new Uint8Array(60_000);
  // Queued bytes count until the kernel took them, the one in flight included: two fit, the
  // third would pass the bound.
  assert.deepEqual([from.send(big, target), from.send(big, target)], [true, true]);
  assert.equal(from.send(big, target), false);
  await from.close();
  assert.equal(from.send(big, target), false);
  await to.close();
});
