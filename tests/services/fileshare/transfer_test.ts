/**
 * The fileshare chunk framing: `u8 idLen | transfer id | u64 offset | bytes`, offsets past 4 GiB
 * included, and payloads too short to be a chunk refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeChunk, encodeChunk } from "../../../services/fileshare/transfer.js";

Deno.test("fileshare chunk: id, offset and bytes survive the framing", () => {
  const bytes = new Uint8Array([1, 2, 3, 250]);
  for (const offset of [0, 262_144, 2 ** 32 - 1, 2 ** 32 + 5 * 262_144, Number.MAX_SAFE_INTEGER]) {
    const framed = encodeChunk("0123456789abcdef", offset, bytes);
    assert.equal(framed.length, 1 + 16 + 8 + bytes.length);
    // Decoded from a view inside a larger buffer, as a binary frame's payload is.
    const inFrame = new Uint8Array(framed.length + 7);
    inFrame.set(framed, 7);
    const chunk = decodeChunk(inFrame.subarray(7));
    assert.deepEqual(chunk && { ...chunk, chunk: [...chunk.chunk] }, {
      transferId: "0123456789abcdef",
      offset,
      chunk: [...bytes],
    });
  }
});

Deno.test("fileshare chunk: an empty chunk, and payloads too short to be one", () => {
  assert.equal(decodeChunk(encodeChunk("ab", 7, new Uint8Array()))?.chunk.length, 0);
  assert.equal(decodeChunk(new Uint8Array()), null);
  assert.equal(decodeChunk(new Uint8Array([2, 97, 98, 0, 0, 0])), null);
});
