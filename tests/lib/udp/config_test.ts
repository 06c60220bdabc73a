import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../lib/config.ts";

Deno.test("config: UDP relay limits default to 1 MiB of backlog and 20,000 frames/s, 0 disables", () => {
  const c = loadConfig({});
  assert.deepEqual([c.udpMaxBufferedBytes, c.udpMaxMsgsPerSec], [1024 * 1024, 20_000]);
  const off = loadConfig({ WSTUN_UDP_MAX_BUFFERED_BYTES: "0", WSTUN_UDP_MAX_MSGS_PER_SEC: "0" });
  assert.deepEqual([off.udpMaxBufferedBytes, off.udpMaxMsgsPerSec], [0, 0]);
  assert.throws(
    () => loadConfig({ WSTUN_UDP_MAX_MSGS_PER_SEC: "lots" }),
    (err) =>
      err instanceof ConfigError && /^WSTUN_UDP_MAX_MSGS_PER_SEC: .*"lots"/.test(err.message),
  );
});
