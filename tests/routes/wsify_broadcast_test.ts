/** `POST /broadcast?key=`: wsify's backend publish, with WSTun's safe default. */
import assert from "node:assert/strict";
import { startPubSubServer } from "../_util/pubsub/pubsub_server.ts";
import { TestSocket } from "../_util/test_socket.ts";
import { waitFor } from "../_util/wait_for.ts";

const KEY = "broadcast-secret";

async function post(url: string, body: string, contentType = "application/json") {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": contentType } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

Deno.test("POST /broadcast: refused until WSTUN_BROADCAST_KEY is set, even with an empty key", async () => {
  const server = await startPubSubServer();
  try {
    const res = await post(`${server.http}/broadcast?key=`, '{"channel":"a","content":1}');
    assert.equal(res.status, 403);
    assert.equal(res.body.error, "broadcast_disabled");
  } finally {
    await server.close();
  }
});

Deno.test("POST /broadcast: the right key publishes (201) with both body shapes; a wrong key is 403", async () => {
  const server = await startPubSubServer({ WSTUN_BROADCAST_KEY: KEY });
  const sub = await TestSocket.open(`${server.ws}/ws`);
  try {
    sub.send({ command: "join", args: { channel: "news" } });
    await waitFor(() => server.pubsub.registry.list().length === 1);
    const wrong = await post(`${server.http}/broadcast?key=nope`, '{"channel":"news","content":0}');
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error, "forbidden");
    const topLevel = await post(
      `${server.http}/broadcast?key=${KEY}`,
      '{"channel":"news","content":{"headline":"top-level"}}',
    );
    assert.equal(topLevel.status, 201);
    assert.equal(topLevel.body, undefined, "201 with an empty body, as wsify");
    assert.equal(await sub.nextRaw(), '{"headline":"top-level"}');
    const readmeShape = await post(
      `${server.http}/broadcast?key=${KEY}`,
      '{"channel":"news","args":{"content":"Hello World! from the server"}}',
      "application/json; charset=utf-8",
    );
    assert.equal(readmeShape.status, 201);
    assert.equal(await sub.nextRaw(), '"Hello World! from the server"');
    assert.equal(sub.pending, 0, "the wrong-key request published nothing");
  } finally {
    await sub.close();
    await server.close();
  }
});

Deno.test("POST /broadcast: bad content type is 415, bad JSON and malformed bodies are 400", async () => {
  const server = await startPubSubServer({ WSTUN_BROADCAST_KEY: KEY });
  const url = `${server.http}/broadcast?key=${KEY}`;
  try {
    const plain = await post(url, '{"channel":"a","content":1}', "text/plain");
    assert.equal(plain.status, 415);
    assert.equal(plain.body.error, "unsupported_media_type");
    const form = await post(url, "channel=a", "application/x-www-form-urlencoded");
    assert.equal(form.status, 415);
    const badJson = await post(url, '{"channel": "a", ');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error, "bad_json");
    const array = await post(url, "[1,2]");
    assert.equal(array.status, 400);
    assert.equal(array.body.error, "invalid_message");
    const noChannel = await post(url, '{"content":1}');
    assert.equal(noChannel.status, 400);
    assert.equal(noChannel.body.error, "invalid_channel");
    const control = await post(url, '{"channel":"a\\u0001b","content":1}');
    assert.equal(control.status, 400);
    assert.equal(control.body.error, "invalid_channel");
    assert.equal(server.pubsub.stats().publishes, 0);
  } finally {
    await server.close();
  }
});

Deno.test("POST /broadcast: content over WSTUN_MAX_PUBLISH_BYTES is 413 publish_too_large", async () => {
  const server = await startPubSubServer({
    WSTUN_BROADCAST_KEY: KEY,
    WSTUN_MAX_PUBLISH_BYTES: "100",
  });
  try {
    const body = JSON.stringify({ channel: "a", content: "x".repeat(200) });
    const res = await post(`${server.http}/broadcast?key=${KEY}`, body);
    assert.equal(res.status, 413);
    assert.equal(res.body.error, "publish_too_large");
    const huge = JSON.stringify({ channel: "a", content: "x".repeat(10_000) });
    const hugeRes = await post(`${server.http}/broadcast?key=${KEY}`, huge);
    assert.equal(hugeRes.status, 413, "a body far past the limit is refused before parsing");
  } finally {
    await server.close();
  }
});
