/** WSTun's limits on `/ws`: wsify's protocol cannot report them in-band, so the socket closes with 4400. */
import assert from "node:assert/strict";
import { startPubSubServer } from "../../_util/pubsub/pubsub_server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { startServer } from "../../_util/server.ts";
import { upgradeStatus } from "../../_util/upgrade_request.ts";

async function closesWith(env: Record<string, string>, frames: object[], reason: string) {
  const server = await startPubSubServer(env);
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    for (const frame of frames) client.send(frame);
    const closed = await client.closed;
    assert.equal(closed.code, 4400);
    assert.equal(closed.reason, reason);
    await waitFor(() => server.pubsub.registry.list().length === 0);
  } finally {
    await client.close();
    await server.close();
  }
}

Deno.test("wsify /ws: a channel name longer than WSTUN_CHANNEL_NAME_MAX closes with invalid_channel", async () => {
  await closesWith(
    { WSTUN_CHANNEL_NAME_MAX: "8" },
    [{ command: "join", args: { channel: "123456789" } }],
    "invalid_channel",
  );
});

Deno.test("wsify /ws: joining more than WSTUN_MAX_CHANNELS channels closes with limit_reached", async () => {
  await closesWith(
    { WSTUN_MAX_CHANNELS: "2" },
    ["a", "b", "c"].map((channel) => ({ command: "join", args: { channel } })),
    "limit_reached",
  );
});

Deno.test("wsify /ws: content over WSTUN_MAX_PUBLISH_BYTES closes with publish_too_large", async () => {
  await closesWith(
    { WSTUN_MAX_PUBLISH_BYTES: "10" },
    [{ command: "broadcast", args: { channel: "a", content: "0123456789abc" } }],
    "publish_too_large",
  );
});

Deno.test("wsify /ws: more broadcasts per second than WSTUN_MAX_PUBLISHES_PER_SEC closes with rate_limited", async () => {
  const burst = Array.from({ length: 6 }, (_, i) => ({
    command: "broadcast",
    args: { channel: "a", content: i },
  }));
  await closesWith({ WSTUN_MAX_PUBLISHES_PER_SEC: "5" }, burst, "rate_limited");
});

Deno.test("wsify /ws: frames that are not wsify commands are ignored, as wsify does", async () => {
  const server = await startPubSubServer();
  const client = await TestSocket.open(`${server.ws}/ws`);
  try {
    client.sendRaw("not json");
    client.sendRaw("[1]");
    client.send({ command: "dance", args: { channel: "a" } });
    client.send({ command: "join" });
    client.send({ command: "join", args: { channel: "   " } });
    client.send({ command: "join", args: { channel: " room " } }); // trimmed, as wsify does
    client.send({ command: "broadcast", args: { channel: "room" } }); // no content: null
    assert.equal(await client.nextRaw(), "null");
    assert.deepEqual(server.pubsub.registry.list(), [{ channel: "room", subscribers: 1 }]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("wsify /ws: a client that drops without a close frame is counted closed once; the connection cap holds", async () => {
  await using server = await startServer({ maxConnections: 1 });
  const ws = `${server.base.replace("http", "ws")}/ws`;
  // Upgraded, then the TCP connection ends: no close frame (Deno reports that close twice).
  for (let i = 0; i < 3; i++) assert.equal((await upgradeStatus(ws)).status, 101);
  await waitFor(() => server.stats.connections === 0, { what: "every socket closed" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(server.stats.connections, 0, "not below zero");
  await using held = await TestSocket.open(ws);
  assert.equal((await upgradeStatus(ws)).status, 503, "the cap of one still counts the held one");
  await held.close();
});
