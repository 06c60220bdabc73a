import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config.ts";
import { startupWarnings } from "../../lib/startup_warnings.ts";
import { TUNNEL_DEFAULTS } from "../../lib/tunnel/tunnel_config.ts";

const secrets = { a: "a".repeat(32), b: "b".repeat(32) };

Deno.test("start-up warnings: tunnels on a shared origin say what the sandbox costs", () => {
  assert.deepEqual(startupWarnings(defaultConfig()), [], "tunnels off: nothing to say");
  const shared = startupWarnings(defaultConfig({ tunnel: { ...TUNNEL_DEFAULTS, secrets } }));
  assert.equal(shared.length, 1);
  assert.match(shared[0], /sandboxed: no cookies, storage or service workers/);
  assert.match(shared[0], /WSTUN_TUNNEL_URL_PREFIX=https:\/\/\{id\}\./);
  const own = defaultConfig({
    tunnel: { ...TUNNEL_DEFAULTS, secrets, urlPrefix: "https://{id}.tunnels.example.com" },
  });
  assert.deepEqual(startupWarnings(own), [], "a host per tunnel needs no sandbox");
});
