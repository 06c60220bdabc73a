/**
 * The fileshare page's incremental SHA-256 agrees with node:crypto for every way of cutting the
 * input into chunks, including across block boundaries and empty input.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256 } from "../../../services/fileshare/sha256.js";

function reference(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

Deno.test("sha256: known vectors", () => {
  const enc = new TextEncoder();
  assert.equal(
    new Sha256().hex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    new Sha256().update(enc.encode("abc")).hex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("sha256: any chunking gives node:crypto's digest", () => {
  const data = new Uint8Array(300_007);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 7)) & 0xff;
  const want = reference(data);
  for (const size of [1, 7, 55, 56, 63, 64, 65, 1000, 65_536, data.length]) {
    const h = new Sha256();
    for (let i = 0; i < data.length; i += size) h.update(data.subarray(i, i + size));
    assert.equal(h.hex(), want, `chunks of ${size}`);
  }
  for (const n of [55, 56, 64, 119, 120, 128]) {
    assert.equal(new Sha256().update(data.subarray(0, n)).hex(), reference(data.subarray(0, n)));
  }
});

Deno.test("sha256: hashes 64 MiB at a usable speed (catches a deoptimised build)", () => {
  const chunk = new Uint8Array(256 * 1024).fill(7);
  const h = new Sha256();
  const t0 = performance.now();
  for (let i = 0; i < 256; i++) h.update(chunk);
  h.hex();
  const mbPerS = 64 / ((performance.now() - t0) / 1000);
  assert.ok(mbPerS > 10, `only ${mbPerS.toFixed(0)} MiB/s`);
});
