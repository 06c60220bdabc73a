/** The configuration toolkit: what every package's variables share. */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  commaList,
  ConfigError,
  flag,
  httpUrl,
  integer,
  milliseconds,
  optionalInteger,
  parseEnv,
  seconds,
} from "../../lib/env_schema.ts";
import { loadConfig } from "../../lib/config.ts";
import { parsePubSubConfig } from "../../lib/pubsub/mod.ts";
import { tunnelConfigFromEnv } from "../../lib/tunnel/tunnel_config.ts";

const Env = z.object({
  N: integer(0, 100, 7),
  MAYBE: optionalInteger(0, 100),
  WAIT_MS: milliseconds(10, 1000, 50),
  WAIT_S: seconds(1, 60, 5),
  ON: flag(false),
  URLS: commaList(httpUrl((url) => `must be http(s) URLs, not ${url}`)),
});

/** The one-line refusal of `env`, or "accepted". */
function refusal(env: Record<string, string>): string {
  try {
    parseEnv(Env, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes("\n"));
    return err.message;
  }
  return "accepted";
}

Deno.test("env schema: unset and empty variables take the default", () => {
  const expected = { N: 7, MAYBE: undefined, WAIT_MS: 50, WAIT_S: 5, ON: false, URLS: [] };
  const empty = { N: "", MAYBE: "", WAIT_MS: "", WAIT_S: "", ON: "", URLS: "" };
  for (const env of [{}, empty]) {
    const e = parseEnv(Env, env);
    assert.deepEqual([e.N, e.MAYBE, e.WAIT_MS, e.WAIT_S, e.ON, e.URLS], Object.values(expected));
  }
});

Deno.test("env schema: numbers are whole digits, blanks around them ignored", () => {
  assert.equal(parseEnv(Env, { N: " 42 " }).N, 42);
  assert.equal(parseEnv(Env, { MAYBE: "0" }).MAYBE, 0);
  // Number() would read these as 1000, 16, 8, 0 and 5: each is refused instead.
  for (const value of ["1e3", "0x10", "8.0", " ", "+5", "-1", "ten"]) {
    assert.equal(
      refusal({ N: value }),
      `N: must be an integer between 0 and 100 (got ${JSON.stringify(value)})`,
      value,
    );
  }
  assert.match(refusal({ N: "101" }), /^N: must be an integer between 0 and 100/);
});

Deno.test("env schema: durations say their unit", () => {
  assert.match(
    refusal({ WAIT_MS: "5" }),
    /^WAIT_MS: must be a whole number of milliseconds between 10 and 1000 /,
  );
  assert.match(
    refusal({ WAIT_S: "2m" }),
    /^WAIT_S: must be a whole number of seconds between 1 and 60 /,
  );
});

Deno.test("env schema: flags are true/1 or false/0", () => {
  assert.equal(parseEnv(Env, { ON: "1" }).ON, true);
  assert.equal(parseEnv(Env, { ON: "true" }).ON, true);
  assert.equal(parseEnv(Env, { ON: "0" }).ON, false);
  assert.match(refusal({ ON: "yes" }), /^ON: must be true or false/);
});

Deno.test("env schema: a list skips blanks and reports its first bad item at the variable", () => {
  assert.deepEqual(parseEnv(Env, { URLS: " https://a.example/x , ,http://b.example" }).URLS, [
    "https://a.example/x",
    "http://b.example",
  ]);
  assert.deepEqual(parseEnv(Env, { URLS: " , " }).URLS, []);
  assert.match(
    refusal({ URLS: "https://a.example,ftp://b" }),
    /^URLS: must be http\(s\) URLs, not ftp:\/\/b /,
  );
});

Deno.test("env schema: a refusal never echoes a secret's value", () => {
  const Secrets = z.object({
    WSTUN_X_TOKEN: integer(0, 1, 0),
    WSTUN_X_KEY: integer(0, 1, 0),
    WSTUN_X_SECRET: integer(0, 1, 0),
    WSTUN_REDIS_URL: integer(0, 1, 0),
  });
  for (const name of Object.keys(Secrets.shape)) {
    assert.throws(
      () => parseEnv(Secrets, { [name]: "hunter2" }),
      (err: Error) => err.message === `${name}: must be an integer between 0 and 1`,
    );
  }
});

Deno.test("env schema: every package's variables refuse the same way", () => {
  const refusals = [
    () => loadConfig({ WSTUN_MAX_MEMBERS: "1e3" }),
    () => loadConfig({ WSTUN_MARKETPLACE_MAX_FILES: "1e3" }),
    () => loadConfig({ WSTUN_WORKERS: "1e3" }),
    () => parsePubSubConfig({ WSTUN_MAX_CHANNELS: "1e3" }),
    () => tunnelConfigFromEnv({ WSTUN_TUNNEL_MAX_STREAMS: "1e3" }),
  ];
  for (const refuse of refusals) {
    assert.throws(refuse, (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /^WSTUN_\w+: must be an integer between \d+ and \d+ \(got "1e3"\)$/,
      );
      return true;
    });
  }
});
