import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../lib/config.ts";

Deno.test("config: defaults are documented values", () => {
  const c = loadConfig({});
  assert.equal(c.port, 8000);
  assert.equal(c.maxFrameBytes, 1024 * 1024);
  assert.equal(c.hostGraceMs, 5000);
  assert.equal(c.token, undefined);
  assert.deepEqual(c.allowedOrigins, []);
});

Deno.test("config: variables are read and 0 means no limit", () => {
  const c = loadConfig({
    PORT: "9000",
    WSTUN_TOKEN: "t",
    WSTUN_MAX_MSGS_PER_SEC: "0",
    WSTUN_ALLOWED_ORIGINS: "https://a.example, http://b.example:8080",
  });
  assert.deepEqual(
    [c.port, c.token, c.maxMsgsPerSec, c.allowedOrigins],
    [9000, "t", 0, ["https://a.example", "http://b.example:8080"]],
  );
  assert.equal(loadConfig({ WSTUN_TOKEN: "" }).token, undefined);
});

Deno.test("config: a bad value is one line naming the variable", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: "eighty" }, /^PORT: must be an integer between 0 and 65535 \(got "eighty"\)$/],
    [{ WSTUN_MAX_FRAME_BYTES: String(65 * 1024 * 1024) }, /^WSTUN_MAX_FRAME_BYTES: must be/],
    [{ WSTUN_HOST_GRACE_MS: "-1" }, /^WSTUN_HOST_GRACE_MS: /],
    [{ WSTUN_ALLOWED_ORIGINS: "not a url" }, /^WSTUN_ALLOWED_ORIGINS: /],
  ];
  for (const [env, pattern] of bad) {
    assert.throws(() => loadConfig(env), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("main.ts: a bad variable stops the server with a one-line message", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "main.ts"],
    env: { WSTUN_MAX_MEMBERS: "lots" },
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assert.match(stderr, /^wstun: WSTUN_MAX_MEMBERS: /);
  assert.equal(stderr.split("\n").length, 1);
});
