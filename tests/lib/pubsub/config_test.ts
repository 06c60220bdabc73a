/** The pub/sub variables: defaults, and one clear line naming a bad variable. */
import assert from "node:assert/strict";
import { parsePubSubConfig, PublishRate } from "../../../lib/pubsub/mod.ts";

Deno.test("pubsub config: defaults ask the authorizer about every event and refuse /broadcast", () => {
  const config = parsePubSubConfig({});
  assert.equal(config.authorizerUrl, undefined);
  assert.equal(config.broadcastKey, undefined);
  assert.deepEqual([...config.authorizerEvents], ["connect", "join", "leave", "broadcast"]);
  assert.equal(config.authorizerTimeoutMs, 2000);
  assert.equal(config.channelNameMax, 128);
  assert.equal(config.maxChannelsPerConnection, 100);
  assert.equal(config.maxPublishBytes, 65536);
  assert.equal(config.maxPublishesPerSec, 100);
});

Deno.test("pubsub config: a bad value names its variable", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ WSTUN_AUTHORIZER_URL: "ftp://x" }, /^WSTUN_AUTHORIZER_URL: /],
    [{ WSTUN_AUTHORIZER_TIMEOUT_MS: "soon" }, /^WSTUN_AUTHORIZER_TIMEOUT_MS: must be a whole/],
    [
      { WSTUN_AUTHORIZER_EVENTS: "join,publish" },
      /^WSTUN_AUTHORIZER_EVENTS: unknown event "publish"/,
    ],
    [{ WSTUN_CHANNEL_NAME_MAX: "300" }, /^WSTUN_CHANNEL_NAME_MAX: /],
    [{ WSTUN_MAX_CHANNELS: "-1" }, /^WSTUN_MAX_CHANNELS: /],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => parsePubSubConfig(env), (e: Error) => message.test(e.message));
  }
});

Deno.test("publish rate: a bucket of one second's worth refills with the injected clock", () => {
  let now = 0;
  const rate = new PublishRate(2, () => now);
  assert.equal(rate.take(), undefined);
  assert.equal(rate.take(), undefined);
  assert.equal(rate.take()?.code, "rate_limited");
  now += 500;
  assert.equal(rate.take(), undefined, "half a second refills one publish");
  assert.equal(rate.take()?.code, "rate_limited");
});
