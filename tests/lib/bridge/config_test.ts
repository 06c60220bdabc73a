import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../lib/config.ts";
import { createServer } from "../../../routes/app.ts";

Deno.test("bridge config: off by default, on with workers, on Deploy, redis with a URL", () => {
  assert.equal(loadConfig({}).bridge.mode, "off");
  assert.equal(loadConfig({ WSTUN_WORKERS: "2" }).bridge.mode, "broadcast_channel");
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "x" }).bridge.mode, "broadcast_channel");
  assert.equal(loadConfig({ WSTUN_REDIS_URL: "redis://127.0.0.1:6379" }).bridge.mode, "redis");
  assert.equal(loadConfig({ WSTUN_WORKERS: "4", WSTUN_BRIDGE: "off" }).bridge.mode, "off");
  const c = loadConfig({}).bridge;
  assert.deepEqual([c.heartbeatMs, c.timeoutMs, c.namespace, c.workers], [5000, 5000, "wstun", 1]);
});

Deno.test("bridge config: a bad value stops start-up with one line naming the variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ WSTUN_BRIDGE: "carrier-pigeon" }, /^WSTUN_BRIDGE: must be auto, off/],
    [{ WSTUN_WORKERS: "0" }, /^WSTUN_WORKERS: must be an integer between 1 and 256/],
    [{ WSTUN_BRIDGE_HEARTBEAT_MS: "10" }, /^WSTUN_BRIDGE_HEARTBEAT_MS: /],
    [{ WSTUN_REDIS_URL: "http://x" }, /^WSTUN_REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ WSTUN_BRIDGE_NAMESPACE: "a b" }, /^WSTUN_BRIDGE_NAMESPACE: /],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err) => err instanceof ConfigError && message.test(err.message),
    );
  }
});

Deno.test("bridge config: a Redis URL's password never appears in the error", () => {
  assert.throws(
    () => loadConfig({ WSTUN_REDIS_URL: "ftp://user:hunter2@x" }),
    (err) => err instanceof ConfigError && !err.message.includes("hunter2"),
  );
});

Deno.test("bridge config: a Redis URL that passes the check but not the client keeps its password out of the error", async () => {
  const config = loadConfig({
    WSTUN_REDIS_URL: "redis://user:PASSW0RD_s3cret@127.0.0.1:notaport",
    WSTUN_LOG_LEVEL: "off",
  });
  await assert.rejects(
    () => createServer(config),
    (err) =>
      err instanceof ConfigError && /^WSTUN_REDIS_URL: cannot connect to Redis/.test(err.message) &&
      !err.message.includes("PASSW0RD") && !err.message.includes("s3cret"),
  );
});
