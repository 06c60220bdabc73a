import assert from "node:assert/strict";
import { DatagramSocket, endpoint } from "../../../lib/udp/datagram_socket.ts";
import { OsSockets } from "../../../lib/udp/os_socket.ts";
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

/** A datagram whose every byte depends on its sequence number and the port it is sent to. */
function stamped(seq: number, port: number): Uint8Array {
  const data = new Uint8Array(100 + seq * 150);
  const view = new DataView(data.buffer);
  view.setUint32(0, seq);
  view.setUint32(4, port);
  for (let b = 8; b < data.length; b++) data[b] = (seq + port + b) & 0xff;
  return data;
}

Deno.test("udp socket: sockets opened and closed in turn keep their own bytes and their own OS view", async () => {
  // Without --allow-ffi (or off Linux) the OS view is out of reach; the buffer reuse is still tested.
  const os = OsSockets.open();
  const sink = DatagramSocket.bind("127.0.0.1", 0);
  const open: DatagramSocket[] = [];
  const arrived = new Map<number, number[]>();
  // More sockets than a slab of receive buffers holds, every other one closed after each round,
  // so later sockets get reused buffers and descriptors below the one found last.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) {
      // A size of its own, so a socket found under another's descriptor would show.
      const asked = { receive: 64 * 1024 + (round * 20 + i) * 1024, send: 64 * 1024 };
      const socket = DatagramSocket.bind("127.0.0.1", 0, { os, buffers: asked });
      if (typeof os !== "string") {
        const granted = socket.buffers();
        assert.ok(typeof granted !== "string", `socket ${socket.port}: ${granted}`);
        // Linux grants twice the request (under net.core.rmem_max, which is at least 208 KiB).
        assert.equal(granted.receive, 2 * asked.receive, `receive buffer of ${socket.port}`);
      }
      socket.onDatagram = (data) => {
        const view = new DataView(data.buffer, data.byteOffset, data.length);
        const seq = view.getUint32(0);
        // Every byte is checked: a receive buffer shared by two sockets would mix datagrams.
        assert.deepEqual(data, stamped(seq, socket.port));
        arrived.get(socket.port)!.push(seq);
      };
      open.push(socket);
    }
    for (const socket of open) arrived.set(socket.port, []);
    for (const socket of open) {
      for (let seq = 0; seq < 8; seq++) {
        assert.ok(sink.send(stamped(seq, socket.port), endpoint("127.0.0.1", socket.port)));
      }
    }
    await waitFor(() => open.every((s) => arrived.get(s.port)!.length === 8), {
      what: `round ${round}'s datagrams`,
    });
    for (const s of open) assert.deepEqual(arrived.get(s.port), [0, 1, 2, 3, 4, 5, 6, 7]);
    const closing = open.filter((_, i) => i % 2 === 0);
    await Promise.all(closing.map((s) => s.close()));
    for (const s of closing) open.splice(open.indexOf(s), 1);
  }
  await Promise.all(open.map((s) => s.close()));
  await sink.close();
  if (typeof os !== "string") os.close();
});
