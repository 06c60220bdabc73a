/**
 * lib/tunnel/http1.ts reads what a tunnel client's target answers. Those bytes come from whoever
 * holds a tunnel token, so every answer must have exactly one reading (RFC 9112): framing that a
 * lenient parser would read one way and a strict one another way is refused (a 502 for the
 * viewer), never guessed at. The parser is fed real byte streams, split at every byte boundary
 * where it matters; one test runs a hostile target behind a real tunnel.
 */
import assert from "node:assert/strict";
import { ByteReader } from "../../../lib/ws/byte_reader.ts";
import { HttpParseError, readResponseHead, responseBody } from "../../../lib/ws/http1.ts";
import { startClient, startTunnelServer } from "../../_util/tunnel/fixture.ts";

const encoder = new TextEncoder();

/** A reader over `text`'s bytes (latin1), delivered in pieces of `pieceBytes`. */
function readerOf(text: string, pieceBytes = Infinity): ByteReader {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  let at = 0;
  return new ByteReader(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        const end = Math.min(bytes.byteLength, at + pieceBytes);
        controller.enqueue(bytes.slice(at, end));
        at = end;
      },
    }),
  );
}

type Reading = { status: number; body: string | null } | { refused: string };

/** Reads one response (head and body) the way the viewer proxy does. */
async function read(text: string, pieceBytes = Infinity): Promise<Reading> {
  const reader = readerOf(text, pieceBytes);
  try {
    const head = await readResponseHead(reader, 64 * 1024);
    const stream = responseBody(reader, head, "GET", () => {});
    const body = stream === null ? null : await new Response(stream).text();
    return { status: head.status, body };
  } catch (error) {
    if (error instanceof HttpParseError) return { refused: error.message };
    throw error;
  }
}

async function assertRead(text: string, expected: Reading, what: string): Promise<void> {
  // Whole, then a byte at a time: where the bytes are split must never change the reading.
  assert.deepEqual(await read(text), expected, what);
  assert.deepEqual(await read(text, 1), expected, `${what} (byte by byte)`);
}

async function assertRefused(text: string, what: string, pattern?: RegExp): Promise<void> {
  for (const piece of [Infinity, 1]) {
    const reading = await read(text, piece);
    assert.ok("refused" in reading, `${what}: expected a refusal, got ${JSON.stringify(reading)}`);
    if (pattern) assert.match(reading.refused, pattern);
  }
}

const OK = "HTTP/1.1 200 OK\r\n";
const chunked = (body: string) => `${OK}Transfer-Encoding: chunked\r\n\r\n${body}`;

Deno.test("http1: chunk sizes as RFC 9112 §7.1 writes them are read", async () => {
  const cases: [string, string][] = [
    ["5\r\nhello\r\n0\r\n\r\n", "hello"],
    ["A\r\n0123456789\r\n0\r\n\r\n", "0123456789"],
    ["a\r\n0123456789\r\n0\r\n\r\n", "0123456789"],
    ["0005\r\nhello\r\n000\r\n\r\n", "hello"],
    ['5;name=value;flag;q="a \\"b\\""\r\nhello\r\n0\r\n\r\n', "hello"],
    ["5 ; ext\r\nhello\r\n0\r\n\r\n", "hello"],
    ["5\r\nhello\r\n0\r\nX-Trailer: dropped\r\n\r\n", "hello"],
  ];
  for (const [body, expected] of cases) {
    await assertRead(chunked(body), { status: 200, body: expected }, JSON.stringify(body));
  }
});

Deno.test("http1: any other chunk-size line is refused, never guessed at", async () => {
  const lines = [
    "0x5", // parseInt reads 0x as a prefix
    "+5",
    "-5",
    " 5",
    "5 ",
    "\t5",
    "5\t",
    "",
    "g",
    "5g",
    "5;",
    "5;=x",
    "5;a b",
    "5;a=\x01",
    "5 5",
    "1_0",
    "５", // a full-width digit
    "10000000000000", // 14 significant hex digits: past 2^53, not exact as a number
    "fffffffffffffffffffffffffffffff",
  ];
  for (const line of lines) {
    await assertRefused(
      chunked(`${line}\r\nhello\r\n0\r\n\r\n`),
      `size line ${JSON.stringify(line)}`,
      /chunk/,
    );
  }
});

Deno.test("http1: chunk data must end in CRLF, and the body in a last chunk and an empty line", async () => {
  await assertRefused(chunked("5\r\nhelloXY0\r\n\r\n"), "data not followed by CRLF", /chunk/);
  await assertRefused(chunked("5\r\nhello\n0\r\n\r\n"), "data followed by a bare LF", /chunk/);
  await assertRefused(chunked("5\r\nhello\r\n0\r\n"), "no empty line after the last chunk");
  await assertRefused(chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n"), "trailers cut off");
  await assertRefused(chunked("5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"), "a malformed trailer");
  await assertRefused(chunked("5\r\nhel"), "data cut off");
});

Deno.test("http1: Content-Length is 1*DIGIT, once (or repeated identically), never with chunked", async () => {
  await assertRead(`${OK}Content-Length: 5\r\n\r\nhello`, { status: 200, body: "hello" }, "plain");
  await assertRead(
    `${OK}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    { status: 200, body: "hello" },
    "the same value twice (RFC 9110 §8.6 allows reading it once)",
  );
  await assertRead(
    `${OK}Content-Length: 5, 5\r\n\r\nhello`,
    { status: 200, body: "hello" },
    "the same value listed twice",
  );
  const refused = [
    "Content-Length: +5\r\n",
    "Content-Length: -5\r\n",
    "Content-Length: 0x5\r\n",
    "Content-Length: 5.0\r\n",
    "Content-Length: 5\xa0\r\n", // NBSP is obs-text, not whitespace
    "Content-Length: 5 5\r\n",
    "Content-Length: 5, 6\r\n",
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Content-Length:\r\n",
    "Content-Length: 10000000000000000\r\n", // past 2^53
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
  ];
  for (const headers of refused) {
    await assertRefused(`${OK}${headers}\r\n5\r\nhello\r\n0\r\n\r\n`, JSON.stringify(headers));
  }
});

Deno.test("http1: Transfer-Encoding is exactly chunked; other codings are refused", async () => {
  await assertRead(
    `${OK}Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    { status: 200, body: "hello" },
    "case-insensitive",
  );
  for (
    const te of [
      "gzip, chunked",
      "chunked, gzip",
      "chunked, chunked",
      "identity",
      "chunked;q=1",
      "xchunked",
      "",
    ]
  ) {
    await assertRefused(
      `${OK}Transfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      `Transfer-Encoding: ${te}`,
    );
  }
  await assertRefused(
    `${OK}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    "two Transfer-Encoding fields",
  );
});

Deno.test("http1: heads with obs-fold, bare CR or LF, or whitespace before the colon are refused", async () => {
  const heads = [
    `${OK}X-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n`, // obs-fold
    `${OK}X-A: 1\r\n\tfolded\r\nContent-Length: 0\r\n\r\n`,
    `${OK}Content-Length : 0\r\n\r\n`, // whitespace before the colon
    `${OK}Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n`,
    `${OK} Content-Length: 0\r\n\r\n`, // a line starting with whitespace
    `${OK}X-A: 1\nContent-Length: 0\r\n\r\n`, // bare LF inside the head
    `${OK}X-A: 1\rContent-Length: 0\r\n\r\n`, // bare CR
    `${OK}X-A: a\x00b\r\nContent-Length: 0\r\n\r\n`, // NUL in a value
    `${OK}X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n`, // DEL in a value
    `HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n`, // status line ended by a bare LF
    `HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n`, // control in the reason
    `HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n`,
    `HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n`,
    `HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n`,
    `${OK}: no-name\r\nContent-Length: 0\r\n\r\n`,
    `${OK}X(A): 1\r\nContent-Length: 0\r\n\r\n`,
  ];
  for (const head of heads) await assertRefused(head, JSON.stringify(head));
  await assertRead(
    `${OK}X-A:  padded value \t\r\nX-Empty:\r\nX-Obs: caf\xe9\r\nContent-Length: 2\r\n\r\nok`,
    { status: 200, body: "ok" },
    "optional whitespace around values, empty values and obs-text are fine",
  );
  await assertRead(
    "HTTP/1.1 204\r\n\r\n",
    { status: 204, body: null },
    "a status line without a reason",
  );
});

/** A raw TCP target answering every request with `answer`, byte for byte, behind a real tunnel. */
async function hostileTunnel(id: string, answer: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(65536)); // the request head (the tests send no body)
      await conn.write(encoder.encode(answer));
      conn.close();
    }
  })();
  const server = startTunnelServer();
  const { client, url } = await startClient(server, id, listener.addr.port);
  return {
    url,
    async close() {
      await client.close();
      await server.close();
      listener.close();
      await serving;
    },
  };
}

Deno.test("http1: a hostile target's ambiguous framing reaches the viewer as 502", async () => {
  const t = await hostileTunnel(
    "both",
    `${OK}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  );
  try {
    const response = await fetch(`${t.url}/`);
    assert.deepEqual(response.status, 502);
    assert.deepEqual((await response.json()).error, "bad_gateway");
  } finally {
    await t.close();
  }
});

Deno.test("http1: a hostile target's `0x` chunk size ends the viewer's body in an error, not in bytes", async () => {
  // The head was fine, so the viewer already has its 200; the body must fail, not be misread.
  const t = await hostileTunnel("hex", chunked("0x10\r\n0123456789abcdef\r\n0\r\n\r\n"));
  try {
    const response = await fetch(`${t.url}/`);
    assert.deepEqual(response.status, 200);
    const body = await response.text().then(
      (text) => `read ${JSON.stringify(text)}`,
      () => "failed",
    );
    assert.deepEqual(body, "failed");
  } finally {
    await t.close();
  }
});
