/**
 * Keyed instance ids (lib/hub/instance_secrets.ts): an HMAC under the server secret, so a listed uuid
 * gives nothing to test guessed keys against offline; the same on every server sharing the store
 * (and so the secret); keys must look random.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { createHash } from "node:crypto";

const KEY = "Vq3xL9pTz0aR7mWc2eYh5K";

/** The keyed id of protocol v1, a plain SHA-256 of the key, to show it is no longer used. */
function plainHashId(service: string, key: string): string {
  const digest = createHash("sha256").update(`wstun-instance-key-v1\u0000${service}\u0000${key}`)
    .digest("base64url");
  return `K${digest.slice(0, 25)}`;
}

async function keyedUuid(wsUrl: string, key = KEY): Promise<string> {
  await using host = await TestSocket.open(wsUrl);
  const created = await host.request({ type: "create_instance", service: "udp", name: "a", key });
  assert.equal(created.type, "instance_created", JSON.stringify(created));
  return created.uuid;
}

Deno.test("keyed ids: not a plain hash of the key; one per server secret, shared through the store", async () => {
  const path = await Deno.makeTempFile({ suffix: ".kv" });
  try {
    const uuids: string[] = [];
    for (const kvPath of [path, path, ":memory:"]) {
      await using server = await startServer({ kvPath });
      uuids.push(await keyedUuid(server.wsUrl));
    }
    const [first, restarted, other] = uuids;
    assert.equal(restarted, first, "a restart on the same KV file keeps the uuid");
    assert.notEqual(other, first, "another store, another secret, another uuid");
    assert.notEqual(first, plainHashId("udp", KEY), "no longer SHA-256 of the key");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("keyed ids: short or repetitive keys are refused, and the error says what a key needs", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  for (const key of ["short", "Vq3xL9pTz0aR7mWc2eYh5", "ab".repeat(20)]) {
    const answer = await host.request({ type: "create_instance", service: "udp", name: "a", key });
    assert.deepEqual([answer.type, answer.code], ["error", "invalid_message"], key);
    assert.match(answer.message, /^key: must be a random secret of at least 22 characters/);
  }
});
