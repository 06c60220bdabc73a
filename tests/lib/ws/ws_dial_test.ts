/**
 * The one WebSocket codec (lib/ws/) as a client, against a real `Deno.serve` WebSocket server on
 * port 0: every length encoding both ways (7-bit, 16-bit and 64-bit lengths, empty messages), order
 * kept with many messages queued at once, text and binary apart, masking (Deno's server refuses an
 * unmasked client frame), the close handshake from either side, the server's refusal of the upgrade
 * as a status and body, the Authorization header reaching the server, wss://, pings answered (the
 * relay pings idle sockets and closes those that do not answer), a protocol error closing with
 * 1002, and frames queued behind a write in flight leaving whole, together, in one write.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ByteReader,
  dialWebSocket,
  encodeWsFrame,
  Opcode,
  WsConnection,
  type WsMessage,
} from "../../../lib/ws/mod.ts";

const TLS_DIR = new URL("../../_util/tls/", import.meta.url);

interface EchoServer extends AsyncDisposable {
  url: URL;
  /** Authorization headers of the upgrades seen. */
  auth: (string | null)[];
  /** Closes the server's side of every open socket with this code and reason. */
  closeAll(code: number, reason: string): void;
}

function echoServer(options: { idleTimeout?: number; tls?: boolean } = {}): EchoServer {
  const auth: (string | null)[] = [];
  const sockets = new Set<WebSocket>();
  const tls = options.tls
    ? {
      cert: Deno.readTextFileSync(new URL("cert.pem", TLS_DIR)),
      key: Deno.readTextFileSync(new URL("key.pem", TLS_DIR)),
    }
    : {};
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {}, ...tls },
    (request) => {
      if (new URL(request.url).pathname === "/refuse") {
        return new Response("no such relay", { status: 404 });
      }
      auth.push(request.headers.get("authorization"));
      const { socket, response } = Deno.upgradeWebSocket(request, {
        idleTimeout: options.idleTimeout,
      });
      socket.binaryType = "arraybuffer";
      sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    },
  );
  const scheme = options.tls ? "wss" : "ws";
  return {
    url: new URL(`${scheme}://127.0.0.1:${server.addr.port}/echo`),
    auth,
    closeAll: (code, reason) => sockets.forEach((socket) => socket.close(code, reason)),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** An open, started connection whose messages land in `received`. */
async function open(
  url: URL,
  headers: [string, string][] = [],
  caCerts?: string[],
): Promise<{ ws: WsConnection; next(): Promise<WsMessage> }> {
  const dialed = await dialWebSocket(url, { headers, maxMessageBytes: 1 << 24, caCerts });
  assert.equal(dialed.kind, "open", `upgrade refused: ${JSON.stringify(dialed)}`);
  const ws = (dialed as { ws: WsConnection }).ws;
  const received: WsMessage[] = [];
  const waiting: ((message: WsMessage) => void)[] = [];
  ws.onMessage = (message) => {
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else received.push(message);
  };
  ws.start();
  const next = () =>
    received.length > 0
      ? Promise.resolve(received.shift()!)
      : new Promise<WsMessage>((resolve) => waiting.push(resolve));
  return { ws, next };
}

Deno.test("ws dial: messages of every length encoding come back whole and in order, text apart from binary", async () => {
  await using server = echoServer();
  const { ws, next } = await open(server.url, [["Authorization", "Bearer s3cret"]]);
  const sizes = [0, 1, 125, 126, 1200, 65_535, 65_536, 200_000, 3];
  void ws.send("first");
  // All queued in one turn: they leave in order, behind the first write.
  for (const [i, size] of sizes.entries()) {
    void ws.send(Uint8Array.from({ length: size }, (_, at) => (at * 7 + i) & 0xff));
  }
  assert.ok(ws.queuedBytes > 200_000);
  void ws.send("last");
  assert.equal(await next(), "first");
  for (const [i, size] of sizes.entries()) {
    const message = await next();
    assert.ok(message instanceof Uint8Array, `message ${i} is binary`);
    assert.equal(message.length, size, `message ${i}`);
    assert.ok(message.every((byte, at) => byte === ((at * 7 + i) & 0xff)), `message ${i} bytes`);
  }
  assert.equal(await next(), "last");
  assert.equal(server.auth[0], "Bearer s3cret");
  void ws.close(1000, "bye");
  assert.equal(ws.open, false);
  assert.equal((await ws.closed).code, 1000);
  assert.equal(ws.queuedBytes, 0);
  await ws.send(new Uint8Array(1)); // a no-op once closed, never a throw
  assert.equal(ws.queuedBytes, 0);
});

Deno.test("ws dial: the server's close reaches `closed` with its code and reason", async () => {
  await using server = echoServer();
  const { ws, next } = await open(server.url);
  void ws.send("hello");
  assert.equal(await next(), "hello");
  server.closeAll(4001, "go away");
  assert.deepEqual(await ws.closed, { code: 4001, reason: "go away" });
  assert.equal(ws.open, false);
});

Deno.test("ws dial: a refused upgrade comes back as the status and body; no server is an error", async () => {
  await using server = echoServer();
  const refused = await dialWebSocket(new URL("/refuse", server.url), {
    headers: [],
    maxMessageBytes: 1024,
  });
  assert.equal(refused.kind, "refused");
  assert.equal(refused.head.status, 404);
  assert.equal(refused.kind === "refused" && refused.body, "no such relay");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(() =>
    dialWebSocket(new URL(`ws://127.0.0.1:${port}/`), { headers: [], maxMessageBytes: 1024 })
  );
});

Deno.test("ws dial: wss:// carries messages over TLS", async () => {
  await using server = echoServer({ tls: true });
  const ca = Deno.readTextFileSync(new URL("cert.pem", TLS_DIR));
  const { ws, next } = await open(server.url, [], [ca]);
  const bytes = Uint8Array.from({ length: 1200 }, (_, at) => at & 0xff);
  void ws.send(bytes);
  assert.deepEqual(await next(), bytes);
  void ws.close();
  assert.equal((await ws.closed).code, 1000);
});

Deno.test("ws dial: answers the server's pings, so an idle link outlives the server's idle timeout", async () => {
  // Deno pings after `idleTimeout` seconds of silence and closes the socket when no pong follows.
  await using server = echoServer({ idleTimeout: 1 });
  const { ws, next } = await open(server.url);
  let closed = false;
  ws.closed.then(() => closed = true);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(closed, false);
  void ws.send("still here");
  assert.equal(await next(), "still here");
  void ws.close();
  await ws.closed;
});

/** A connection over in-memory streams: what the peer sends it, and the writes it makes. */
function pipedConnection(): {
  ws: WsConnection;
  writes: Uint8Array[];
  /** Resolves with the next write (each stays in flight until the test calls `release`). */
  nextWrite(): Promise<Uint8Array>;
  release(): void;
  peer: WritableStreamDefaultWriter<Uint8Array>;
} {
  const fromPeer = new TransformStream<Uint8Array, Uint8Array>();
  const writes: Uint8Array[] = [];
  let wrote = Promise.withResolvers<Uint8Array>();
  let release = () => {};
  const ws = new WsConnection({
    reader: new ByteReader(fromPeer.readable),
    writeBytes: (bytes) => {
      writes.push(bytes);
      wrote.resolve(bytes);
      wrote = Promise.withResolvers();
      return new Promise((resolve) => release = resolve);
    },
    shutdown: () => {},
    role: "client",
    maxMessageBytes: 1024,
  });
  return {
    ws,
    writes,
    nextWrite: () => wrote.promise,
    release: () => release(),
    peer: fromPeer.writable.getWriter(),
  };
}

Deno.test("ws codec: frames queued behind a write in flight leave whole and together, masked, counted until written", async () => {
  const { ws, writes, release, peer } = pipedConnection();
  const first = ws.send(new Uint8Array(1100));
  void ws.send(new Uint8Array(1100));
  const third = ws.send("x");
  assert.equal(writes.length, 1); // the first frame, alone, at once
  assert.equal(writes[0].byteLength, 2 + 2 + 4 + 1100); // head, 16-bit length, mask key, payload
  assert.equal(writes[0][1] & 0x80, 0x80); // masked
  assert.equal(ws.queuedBytes, 1108 + 1108 + 7); // the write in flight counts until it is done
  release();
  await first;
  assert.equal(writes.length, 2); // the other two, in one write
  assert.equal(writes[1].byteLength, 1108 + 7);
  assert.equal(ws.queuedBytes, 1108 + 7);
  release();
  await third;
  assert.equal(ws.queuedBytes, 0);
  ws.abort("test over");
  await ws.closed;
  await peer.close();
});

Deno.test("ws codec: an unknown opcode closes with 1002", async () => {
  const { ws, nextWrite, release, peer } = pipedConnection();
  ws.start();
  await peer.write(encodeWsFrame(3, new Uint8Array(2), null));
  const closeFrame = await nextWrite();
  assert.equal(closeFrame[0], 0x80 | Opcode.Close);
  release();
  assert.equal((await ws.closed).code, 1002);
  await peer.close();
});
