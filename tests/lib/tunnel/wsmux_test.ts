/**
 * wsmux on its own: frame encoding, and a server session over a real WebSocket whose peer is a
 * raw WebSocket sending hand-made frames, so every malformed input can be produced.
 */
import assert from "node:assert/strict";
import {
  decodeFrame,
  encodeAck,
  encodeData,
  encodeFin,
  encodeSyn,
  FrameType,
} from "../../../lib/tunnel/wsmux_frame.ts";
import {
  MuxCloseCode,
  MuxError,
  type MuxOptions,
  muxOverWebSocket,
  type MuxSession,
} from "../../../lib/tunnel/wsmux.ts";

Deno.test("wsmux frame: DATA, SYN, ACK and FIN round-trip with little-endian ids", () => {
  const data = encodeData(0x01020304, new Uint8Array([9, 8, 7]));
  assert.deepEqual([...data], [0, 4, 3, 2, 1, 9, 8, 7]);
  const decoded = decodeFrame(data);
  assert.deepEqual("frame" in decoded && decoded.frame.type === FrameType.Data, true);
  assert.deepEqual(decodeFrame(encodeSyn(6)), { frame: { type: FrameType.Syn, id: 6 } });
  assert.deepEqual([...encodeAck(2, 4096)], [2, 2, 0, 0, 0, 0, 16, 0, 0]);
  assert.deepEqual(decodeFrame(encodeAck(2, 4096)), {
    frame: { type: FrameType.Ack, id: 2, credit: 4096 },
  });
  assert.deepEqual(decodeFrame(encodeFin(0xffffffff)), {
    frame: { type: FrameType.Fin, id: 0xffffffff },
  });
});

Deno.test("wsmux frame: malformed messages are refused with a reason code", () => {
  const code = (bytes: number[]) => {
    const r = decodeFrame(new Uint8Array(bytes));
    return "error" in r ? r.error.code : "ok";
  };
  assert.deepEqual(code([0, 1, 0, 0]), "short_header");
  assert.deepEqual(code([1, 1, 0, 0, 0, 42]), "unexpected_payload");
  assert.deepEqual(code([3, 1, 0, 0, 0, 42]), "unexpected_payload");
  assert.deepEqual(code([2, 1, 0, 0, 0, 1, 2, 3]), "bad_credit_length");
  assert.deepEqual(code([2, 1, 0, 0, 0, 1, 2, 3, 4, 5]), "bad_credit_length");
  assert.deepEqual(code([4, 1, 0, 0, 0]), "unknown_type");
  assert.deepEqual(code([0, 1, 0, 0, 0]), "ok");
});

/** A server session behind Deno.serve and a raw WebSocket peer playing the client. */
async function harness(options: Partial<MuxOptions> = {}) {
  const { promise: sessionReady, resolve } = Promise.withResolvers<MuxSession>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const session = muxOverWebSocket(socket, { role: "server", ...options });
    socket.addEventListener("open", () => resolve(session));
    return response;
  });
  const peer = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  peer.binaryType = "arraybuffer";
  const inbox: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  peer.onmessage = (event) => {
    inbox.push(new Uint8Array(event.data as ArrayBuffer));
    wake?.();
  };
  const closed = new Promise<CloseEvent>((r) => peer.addEventListener("close", (e) => r(e)));
  await new Promise((r) => peer.addEventListener("open", r));
  const session = await sessionReady;
  return {
    session,
    peer,
    closed,
    /** The next frame the server sent. */
    async next() {
      while (inbox.length === 0) await new Promise<void>((r) => wake = r);
      const r = decodeFrame(inbox.shift()!);
      if ("error" in r) throw new Error(r.error.message);
      return r.frame;
    },
    async close() {
      if (peer.readyState === WebSocket.OPEN) peer.close();
      await closed;
      await session.closed;
      await server.shutdown();
    },
  };
}

const violations: [string, Uint8Array | string, number][] = [
  ["a short header", new Uint8Array([0, 1, 0]), MuxCloseCode.MalformedFrame],
  ["a SYN with a payload", new Uint8Array([1, 1, 0, 0, 0, 7]), MuxCloseCode.MalformedFrame],
  [
    "an ACK with 3 credit bytes",
    new Uint8Array([2, 1, 0, 0, 0, 1, 0, 0]),
    MuxCloseCode.MalformedFrame,
  ],
  ["a FIN with a payload", new Uint8Array([3, 1, 0, 0, 0, 7]), MuxCloseCode.MalformedFrame],
  ["an unknown type", new Uint8Array([9, 1, 0, 0, 0]), MuxCloseCode.MalformedFrame],
  ["a text message", "hello", MuxCloseCode.MalformedFrame],
  [
    "DATA on an unopened stream",
    encodeData(3, new Uint8Array([1])),
    MuxCloseCode.ProtocolViolation,
  ],
  ["a SYN with the server's parity", encodeSyn(2), MuxCloseCode.ProtocolViolation],
  ["a frame above the size limit", encodeData(1, new Uint8Array(5000)), MuxCloseCode.FrameTooLarge],
];
for (const [what, message, expected] of violations) {
  Deno.test(`wsmux session: ${what} closes the session with ${expected}`, async () => {
    const h = await harness({ maxFramePayloadBytes: 4096 });
    h.peer.send(message as string | Uint8Array<ArrayBuffer>);
    const event = await h.closed;
    assert.deepEqual(event.code, expected);
    assert.deepEqual((await h.session.closed).code, expected);
    await h.close();
  });
}

Deno.test("wsmux session: DATA beyond the granted credit closes the session with 4902", async () => {
  const h = await harness({ windowBytes: 4096 });
  const opening = h.session.open();
  const syn = await h.next();
  assert.deepEqual(syn, { type: FrameType.Syn, id: 0 });
  h.peer.send(encodeAck(0, 1024));
  await opening;
  // The peer assumed our window is 1024 (its own ACK), we granted the rest up to 4096.
  assert.deepEqual(await h.next(), { type: FrameType.Ack, id: 0, credit: 3072 });
  h.peer.send(encodeData(0, new Uint8Array(4096)));
  h.peer.send(encodeData(0, new Uint8Array(1)));
  assert.deepEqual((await h.closed).code, MuxCloseCode.FlowControl);
  await h.close();
});

Deno.test("wsmux session: a stream never sends more than its credit, and resumes on ACK", async () => {
  const h = await harness();
  const opening = h.session.open();
  await h.next();
  h.peer.send(encodeAck(0, 1000));
  const stream = await opening;
  await h.next(); // the top-up ACK
  const writing = stream.write(new Uint8Array(2500).fill(7));
  // A SYN for a second stream is sent after the write has used up its credit, so seeing it
  // proves no DATA beyond 1000 bytes was sent before it.
  const second = h.session.open();
  let received = 0;
  while (true) {
    const frame = await h.next();
    if (frame.type === FrameType.Syn) break;
    if (frame.type === FrameType.Data) received += frame.payload.byteLength;
  }
  assert.deepEqual(received, 1000);
  h.peer.send(encodeAck(0, 1500));
  while (received < 2500) {
    const frame = await h.next();
    if (frame.type === FrameType.Data) received += frame.payload.byteLength;
  }
  await writing;
  assert.deepEqual(received, 2500);
  h.peer.send(encodeFin(2));
  await assert.rejects(() => second, (e) => e instanceof MuxError && e.message.includes("refused"));
  await h.close();
});

Deno.test("wsmux session: reading acknowledges bytes; FIN ends the readable", async () => {
  const h = await harness();
  const opening = h.session.open();
  await h.next();
  h.peer.send(encodeAck(0, 4096));
  const stream = await opening;
  await h.next(); // top-up ACK
  h.peer.send(encodeData(0, new TextEncoder().encode("hello ")));
  h.peer.send(encodeData(0, new TextEncoder().encode("world")));
  h.peer.send(encodeFin(0));
  const text = await new Response(stream.readable).text();
  assert.deepEqual(text, "hello world");
  assert.deepEqual(await h.next(), { type: FrameType.Ack, id: 0, credit: 6 });
  assert.deepEqual(await h.next(), { type: FrameType.Ack, id: 0, credit: 5 });
  stream.closeWrite();
  assert.deepEqual(await h.next(), { type: FrameType.Fin, id: 0 });
  assert.deepEqual(h.session.streamCount, 0);
  await h.close();
});

Deno.test("wsmux session: open() fails with open_timeout when the peer never ACKs", async () => {
  const h = await harness({ openTimeoutMs: 100 });
  await assert.rejects(
    () => h.session.open(),
    (e) => e instanceof MuxError && e.message.includes("did not accept"),
  );
  await h.next(); // SYN
  assert.deepEqual(await h.next(), { type: FrameType.Fin, id: 0 });
  await h.close();
});

Deno.test("wsmux session: max streams is enforced on open()", async () => {
  const h = await harness({ maxStreams: 1, openTimeoutMs: 5000 });
  const first = h.session.open();
  await assert.rejects(
    () => h.session.open(),
    (e) => e instanceof MuxError && e.message.includes("streams open"),
  );
  await h.next();
  h.peer.send(encodeAck(0, 10));
  (await first).abort();
  await h.close();
});

Deno.test("wsmux session: closing the socket fails pending reads and opens", async () => {
  const h = await harness();
  const opening = h.session.open();
  await h.next();
  h.peer.close(1000, "bye");
  await assert.rejects(() => opening, (e) => e instanceof MuxError && e.message.includes("closed"));
  assert.deepEqual((await h.session.closed).code, 1000);
  await h.close();
});
