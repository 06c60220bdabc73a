/** libwstun.js's channel API from Deno, against the real server. */
import assert from "node:assert/strict";
import { WSTunClient, WSTunError } from "../../static/libwstun.js";
import { LoopbackAuthorizer } from "../_util/pubsub/loopback_authorizer.ts";
import { startPubSubServer } from "../_util/pubsub/pubsub_server.ts";
import { nextEvent } from "../_util/client_events.ts";

Deno.test("libwstun: subscribe, publish JSON and bytes, message events name the channel", async () => {
  const server = await startPubSubServer();
  const sub = new WSTunClient({ url: server.http });
  const pub = new WSTunClient({ url: server.http });
  await sub.connect();
  await pub.connect();
  try {
    await sub.subscribe("news");
    const message = nextEvent(sub, "message");
    await pub.publish("news", { headline: "hi" });
    const got = await message;
    assert.deepEqual([got.channel, got.data], ["news", { headline: "hi" }]);
    assert.equal(typeof got.from, "string");

    const bytes = nextEvent(sub, "channel_binary");
    pub.publishBinary("news", new Uint8Array([1, 2]));
    const bin = await bytes;
    assert.equal(bin.channel, "news");
    assert.equal(bin.from, got.from, "the same publisher");
    assert.deepEqual([...bin.data], [1, 2]);

    await assert.rejects(sub.subscribe("news"), (e: WSTunError) => e.code === "already_subscribed");
    await sub.unsubscribe("news");
    await assert.rejects(sub.unsubscribe("news"), (e: WSTunError) => e.code === "not_subscribed");
  } finally {
    sub.close();
    pub.close();
    await server.close();
  }
});

Deno.test("libwstun: after the authorizer's 4503 close the client reconnects and renews its channels", async () => {
  const authorizer = LoopbackAuthorizer.start();
  const server = await startPubSubServer({ WSTUN_AUTHORIZER_URL: authorizer.url });
  const sub = new WSTunClient({ url: server.http, minBackoffMs: 20 });
  const pub = new WSTunClient({ url: server.http, minBackoffMs: 20 });
  await sub.connect();
  await pub.connect();
  try {
    await sub.subscribe("alerts");
    authorizer.fail();
    const closed = nextEvent(sub, "close");
    await assert.rejects(
      sub.subscribe("other"),
      (e: WSTunError) => e.code === "authorizer_unavailable",
    );
    assert.equal((await closed).code, 4503);
    const back = nextEvent(sub, "reconnect");
    authorizer.allow();
    assert.deepEqual((await back).channels, [{ channel: "alerts", ok: true }]);
    const message = nextEvent(sub, "message");
    await pub.publish("alerts", "still here");
    assert.equal((await message).data, "still here");
  } finally {
    sub.close();
    pub.close();
    await server.close();
    await authorizer.close();
  }
});
