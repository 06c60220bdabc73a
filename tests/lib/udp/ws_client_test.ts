/**
 * The UDP tools' WebSocket client against a real `Deno.serve` WebSocket server on port 0: every
 * length encoding both ways (7-bit, 16-bit and 64-bit lengths, empty messages), order kept with
 * many messages queued at once, text and binary apart, the close handshake from either side, the
 * server's refusal of the upgrade as a status, the Authorization header reaching the server, and
 * pings answered (the relay pings idle sockets and closes those that do not answer).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ReadyState, WsClient } from "../../../lib/udp/ws_client.ts";

interface EchoServer extends AsyncDisposable {
  url: URL;
  /** Authorization headers of the upgrades seen. */
  auth: (string | null)[];
  /** Closes the server's side of every open socket with this code and reason. */
  closeAll(code: number, reason: string): void;
}

function echoServer(idleTimeout?: number): EchoServer {
  const auth: (string | null)[] = [];
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    if (new URL(request.url).pathname === "/refuse") {
      return new Response("no such relay", { status: 404 });
    }
    auth.push(request.headers.get("authorization"));
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
    socket.binaryType = "arraybuffer";
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
  return {
    url: new URL(`ws://127.0.0.1:${server.addr.port}/echo`),
    auth,
    closeAll: (code, reason) => sockets.forEach((socket) => socket.close(code, reason)),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function open(url: URL, headers: Record<string, string> = {}): Promise<WsClient> {
  const client = await WsClient.connect(url, headers);
  assert.ok(client instanceof WsClient, `upgrade refused: ${JSON.stringify(client)}`);
  return client;
}

Deno.test("ws client: messages of every length encoding come back whole and in order, text apart from binary", async () => {
  await using server = echoServer();
  const client = await open(server.url, { authorization: "Bearer s3cret" });
  const sizes = [0, 1, 125, 126, 1200, 65_535, 65_536, 200_000, 3];
  const binary: Uint8Array[] = [];
  const text: string[] = [];
  const done = Promise.withResolvers<void>();
  client.onBinary = (bytes) => {
    binary.push(bytes);
    if (binary.length === sizes.length) done.resolve();
  };
  client.onText = (message) => text.push(message);
  client.send("first");
  // All queued in one turn: they leave in one write, in order.
  for (const [i, size] of sizes.entries()) {
    client.send(Uint8Array.from({ length: size }, (_, at) => (at * 7 + i) & 0xff));
  }
  assert.ok(client.bufferedAmount > 200_000);
  client.send("last");
  await done.promise;
  for (const [i, size] of sizes.entries()) {
    assert.equal(binary[i].length, size, `message ${i}`);
    assert.ok(binary[i].every((byte, at) => byte === ((at * 7 + i) & 0xff)), `message ${i} bytes`);
  }
  assert.deepEqual(text.slice(0, 1), ["first"]);
  assert.equal(server.auth[0], "Bearer s3cret");
  client.close(1000, "bye");
  assert.equal(client.readyState, ReadyState.Closing);
  assert.equal((await client.closed).code, 1000);
  assert.equal(client.readyState, ReadyState.Closed);
  assert.equal(client.bufferedAmount, 0);
  assert.equal(client.send(new Uint8Array(1)), false);
});

Deno.test("ws client: the server's close reaches `closed` with its code and reason", async () => {
  await using server = echoServer();
  const client = await open(server.url);
  const echoed = Promise.withResolvers<string>();
  client.onText = echoed.resolve;
  client.send("hello");
  assert.equal(await echoed.promise, "hello");
  server.closeAll(4001, "go away");
  assert.deepEqual(await client.closed, { code: 4001, reason: "go away" });
});

Deno.test("ws client: a refused upgrade comes back as the status and body; no server is an error", async () => {
  await using server = echoServer();
  const refused = await WsClient.connect(new URL("/refuse", server.url), {});
  assert.ok(!(refused instanceof WsClient));
  assert.equal(refused.status, 404);
  assert.match(refused.body, /no such relay/);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(() => WsClient.connect(new URL(`ws://127.0.0.1:${port}/`), {}));
});

Deno.test("ws client: answers the server's pings, so an idle link outlives the server's idle timeout", async () => {
  // Deno pings after `idleTimeout` seconds of silence and closes the socket when no pong follows.
  await using server = echoServer(1);
  const client = await open(server.url);
  let closed = false;
  client.closed.then(() => closed = true);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(closed, false);
  const echoed = Promise.withResolvers<string>();
  client.onText = echoed.resolve;
  client.send("still here");
  assert.equal(await echoed.promise, "still here");
  client.close();
  await client.closed;
});
