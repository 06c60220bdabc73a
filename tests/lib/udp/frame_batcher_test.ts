import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { decodeTunnelFrame, framePrefix } from "../../../lib/udp/datagram_frame.ts";
import { type BatchOutput, FrameBatcher, MAX_BATCH_BYTES } from "../../../lib/udp/frame_batcher.ts";

/** An output that keeps the frames, as the relay link would send them, and the counts. */
function recorder(accept = true) {
  const frames: number[][] = [];
  const counts = { sent: 0, bytes: 0, dropped: 0 };
  const output: BatchOutput = {
    send(frame) {
      const decoded = decodeTunnelFrame(frame);
      assert.ok(typeof decoded !== "string", "a well-formed frame");
      frames.push(decoded.datagrams.map((d) => d.datagram[0]));
      return accept;
    },
    sent: (count, bytes) => void (counts.sent += count, counts.bytes += bytes),
    dropped: (count) => void (counts.dropped += count),
  };
  return { output, frames, counts };
}

const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));
const datagram = (n: number, size = 10) => new Uint8Array(size).fill(n);

Deno.test("udp batches: the first datagram of a turn leaves alone and at once, the rest of the turn in one frame, in order", async () => {
  const { output, frames, counts } = recorder();
  const batcher = new FrameBatcher(framePrefix("u", ""), output);
  const reused = new Uint8Array(10);
  for (let n = 1; n <= 5; n++) batcher.add(n, reused.fill(n));
  assert.deepEqual(frames, [[1]]);
  await endOfTurn();
  assert.deepEqual(frames, [[1], [2, 3, 4, 5]], "copied when added, so the caller may reuse");
  // Dense traffic: the next turn's first datagram waits for the turn's batch.
  batcher.add(6, datagram(6));
  batcher.add(7, datagram(7));
  assert.equal(frames.length, 2);
  await endOfTurn();
  assert.deepEqual(frames.at(-1), [6, 7]);
  // A turn with a single datagram ends the dense mode: the next turn's first leaves at once.
  batcher.add(8, datagram(8));
  await endOfTurn();
  batcher.add(9, datagram(9));
  assert.deepEqual(frames.slice(-2), [[8], [9]]);
  assert.deepEqual(counts, { sent: 9, bytes: 90, dropped: 0 });
  batcher.close();
});

Deno.test("udp batches: a full batch goes before the next datagram; refused frames and close() count drops", async () => {
  const { output, frames, counts } = recorder(false);
  const batcher = new FrameBatcher(framePrefix("u", ""), output);
  const big = MAX_BATCH_BYTES / 2;
  batcher.add(1, datagram(1)); // alone, refused by the link
  batcher.add(2, datagram(2, big)); // batched
  batcher.add(3, datagram(3, big)); // would pass the bound: 2 leaves first
  assert.deepEqual(frames, [[1], [2]]);
  batcher.close(); // 3 is discarded and counted
  await endOfTurn();
  assert.deepEqual(counts, { sent: 0, bytes: 0, dropped: 3 });
});
