/**
 * Just enough HTTP/1.1 to carry a viewer's request through a wsmux stream and read the answer,
 * the way websocktunnel's server does (the client pipes the bytes to its local port unchanged).
 *
 * Guarantees: heads are bounded (`maxHeadBytes`); bodies are streamed, never buffered whole, and
 * pulled only as fast as the consumer reads (so stream credit follows the viewer's pace); a
 * malformed answer raises {@link HttpParseError}, which the proxy turns into a 502.
 *
 * Strictness: the bytes come from whoever holds a tunnel token, so an answer has exactly one
 * reading or is refused (RFC 9112). Lines end in CRLF only (a bare CR or LF anywhere in a head is
 * refused); no obs-fold; no whitespace before a field's colon; field values without controls;
 * `Content-Length` is 1*DIGIT (repeated only with the same value); `Transfer-Encoding` is exactly
 * `chunked` and never comes with `Content-Length`; a chunk size is 1*HEXDIG (at most 13
 * significant digits, so it is exact as a number) with well-formed extensions, each chunk's data
 * ends in CRLF, and the body ends with the last chunk, well-formed trailers (dropped) and CRLF.
 *
 * @module
 */
import { ByteReader, ByteReaderError } from "./byte_reader.ts";

const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Headers a proxy must not forward (RFC 9110 §7.6.1), plus the ones we recompute. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** A response the tunnel client sent that is not HTTP/1.x. */
export class HttpParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpParseError";
  }
}

export interface ResponseHead {
  status: number;
  statusText: string;
  headers: [string, string][];
}

/** A response body's framing (RFC 9112 §6.3): chunked, a length, or up to the end of the stream. */
export type BodyFraming =
  | { kind: "chunked" }
  | { kind: "length"; length: number }
  | { kind: "close" };

/** Answers of status 1xx (other than 101) skipped before a real one, at most. */
const MAX_INTERIM_RESPONSES = 16;
/** The trailer section of a chunked body (dropped, but read), at most, in bytes. */
const MAX_TRAILER_BYTES = 64 * 1024;
/** Longest chunk-size line, extensions included. */
const MAX_CHUNK_LINE_BYTES = 1024;

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED_STRING =
  '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
/** `1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )` (RFC 9112 §7.1.1). */
const CHUNK_SIZE_LINE = new RegExp(
  `^([0-9A-Fa-f]+)((?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED_STRING}))?)*)$`,
);
/** `field-name ":" …`: no whitespace before the colon. */
const FIELD_NAME = new RegExp(`^${TOKEN}$`);
/** A field value's characters: VCHAR, SP, HTAB and obs-text; no other control. */
const FIELD_VALUE_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/;
/** `HTTP-version SP 3DIGIT SP reason-phrase` (the SP and reason may be missing). */
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
/** Hex digits of a chunk size past leading zeros: 13 keep it below 2^53, exact as a number. */
const MAX_CHUNK_SIZE_DIGITS = 13;
/** Decimal digits of a Content-Length past leading zeros: 15 keep it below 2^53. */
const MAX_LENGTH_DIGITS = 15;

/** Serialises a request line and headers (names as given, values as given). */
export function encodeRequestHead(
  method: string,
  target: string,
  headers: Iterable<[string, string]>,
): Uint8Array {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return encoder.encode(head + "\r\n");
}

/** Headers of `source` minus hop-by-hop ones and those `Connection` names. */
export function endToEndHeaders(source: Headers): [string, string][] {
  const named = new Set(
    (source.get("connection") ?? "").split(",").map((s) => s.trim().toLowerCase()),
  );
  const out: [string, string][] = [];
  for (const [name, value] of source) {
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push([name, value]);
  }
  return out;
}

/** Reads a response head, skipping interim 1xx answers other than 101; refuses bad framing. */
export async function readResponseHead(
  reader: ByteReader,
  maxHeadBytes: number,
): Promise<ResponseHead> {
  for (let interim = 0; interim <= MAX_INTERIM_RESPONSES; interim++) {
    const raw = await readHead(reader, maxHeadBytes);
    const [statusLine, ...lines] = splitLines(raw);
    const match = STATUS_LINE.exec(statusLine);
    if (!match) throw new HttpParseError("the tunnel client's answer is not an HTTP/1.x response");
    const status = Number(match[1]);
    const headers = parseHeaderLines(lines);
    if (status >= 100 && status < 200 && status !== 101) continue;
    // Framing is checked here too, so an ambiguous one is refused with the head.
    bodyFraming(headers);
    return { status, statusText: match[2] ?? "", headers };
  }
  throw new HttpParseError(
    `the tunnel client sent more than ${MAX_INTERIM_RESPONSES} interim (1xx) answers`,
  );
}

/**
 * The body's framing from the head's fields, or a refusal when they can be read two ways:
 * `Transfer-Encoding` other than exactly `chunked` (a coding we would drop), both
 * `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 calls it a smuggling sign), or a
 * `Content-Length` that is not 1*DIGIT or differs between its values (RFC 9110 §8.6).
 */
export function bodyFraming(headers: [string, string][]): BodyFraming {
  const te = fieldValues(headers, "transfer-encoding");
  const lengths = fieldValues(headers, "content-length");
  if (te.length > 0) {
    if (lengths.length > 0) {
      throw new HttpParseError(
        "the tunnel client's answer has both Transfer-Encoding and Content-Length",
      );
    }
    if (te.length !== 1 || te[0].toLowerCase() !== "chunked") {
      throw new HttpParseError(
        "the tunnel client's answer has a Transfer-Encoding other than chunked",
      );
    }
    return { kind: "chunked" };
  }
  if (lengths.length === 0) return { kind: "close" };
  const first = lengths[0];
  if (!/^\d+$/.test(first) || first.replace(/^0+(?=\d)/, "").length > MAX_LENGTH_DIGITS) {
    throw new HttpParseError("bad Content-Length from the tunnel client");
  }
  if (lengths.some((value) => value !== first)) {
    throw new HttpParseError("the tunnel client's answer has differing Content-Length values");
  }
  return { kind: "length", length: Number(first) };
}

/** Every value of field `name`, its comma-separated lists split (RFC 9110 §5.3). */
function fieldValues(headers: [string, string][], name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name)
    .flatMap(([, value]) => value.split(",").map(trimOws));
}

/**
 * The response body as a pull stream: chunked, Content-Length or until end of stream. Null when
 * the response has no body (HEAD, 1xx, 204, 304). `onDone` runs once the body is fully read
 * (true) or abandoned (false).
 */
export function responseBody(
  reader: ByteReader,
  head: ResponseHead,
  method: string,
  onDone: (complete: boolean) => void,
): ReadableStream<Uint8Array> | null {
  const noBody = method === "HEAD" || head.status < 200 || head.status === 204 ||
    head.status === 304;
  if (noBody) {
    onDone(true);
    return null;
  }
  const framing = bodyFraming(head.headers);
  const next = framing.kind === "chunked"
    ? chunkedReader(reader)
    : framing.kind === "length"
    ? lengthReader(reader, framing.length)
    : () => reader.readSome();
  let finished = false;
  const finish = (complete: boolean) => {
    if (finished) return;
    finished = true;
    onDone(complete);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await next();
        if (chunk === null) {
          controller.close();
          finish(true);
        } else {
          controller.enqueue(chunk);
        }
      } catch (error) {
        controller.error(error);
        finish(false);
      }
    },
    cancel() {
      finish(false);
    },
  }, { highWaterMark: 0 });
}

/** Writes `body` with chunked transfer coding through `write`. */
export async function writeChunked(
  body: ReadableStream<Uint8Array>,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  for await (const chunk of body) {
    if (chunk.byteLength === 0) continue;
    // One write (so one frame) per chunk: size line, data and CRLF together.
    const size = encoder.encode(chunk.byteLength.toString(16) + "\r\n");
    const framed = new Uint8Array(size.byteLength + chunk.byteLength + 2);
    framed.set(size);
    framed.set(chunk, size.byteLength);
    framed.set(CRLF, size.byteLength + chunk.byteLength);
    await write(framed);
  }
  await write(encoder.encode("0\r\n\r\n"));
}

/** Case-insensitive lookup in a header list. */
export function header(headers: [string, string][], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

async function readHead(reader: ByteReader, maxHeadBytes: number): Promise<string> {
  let raw: Uint8Array | null;
  try {
    raw = await reader.readUntil(CRLFCRLF, maxHeadBytes);
  } catch (error) {
    if (error instanceof ByteReaderError) {
      throw new HttpParseError(
        error.code === "too_large"
          ? `the tunnel client's response head exceeds ${maxHeadBytes} bytes`
          : "the tunnel client closed the stream inside the response head",
      );
    }
    throw error;
  }
  if (raw === null) {
    throw new HttpParseError("the tunnel client closed the stream without answering");
  }
  return latin1.decode(raw);
}

/** A head's lines, split at CRLF; a CR or LF that is not part of a CRLF is refused. */
function splitLines(raw: string): string[] {
  const lines = raw.split("\r\n");
  if (lines.some((line) => line.includes("\r") || line.includes("\n"))) {
    throw new HttpParseError("the tunnel client's answer has a bare CR or LF in its head");
  }
  return lines;
}

/** Field lines (headers or trailers); obs-fold and whitespace before the colon are refused. */
function parseHeaderLines(lines: string[]): [string, string][] {
  return lines.map((line) => {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    if (colon <= 0 || !FIELD_NAME.test(name) || !FIELD_VALUE_CHARS.test(value)) {
      throw new HttpParseError("malformed header line from the tunnel client");
    }
    return [name, trimOws(value)];
  });
}

/** Strips OWS (SP and HTAB only, RFC 9110 §5.6.3) from both ends; a loop, so never quadratic. */
function trimOws(value: string): string {
  let start = 0, end = value.length;
  const ows = (c: string) => c === " " || c === "\t";
  while (start < end && ows(value[start])) start++;
  while (end > start && ows(value[end - 1])) end--;
  return value.slice(start, end);
}

function lengthReader(reader: ByteReader, length: number): () => Promise<Uint8Array | null> {
  let remaining = length;
  return async () => {
    if (remaining === 0) return null;
    const chunk = await reader.readSome(remaining);
    if (chunk === null) throw new HttpParseError("the tunnel client's body ended early");
    remaining -= chunk.byteLength;
    return chunk;
  };
}

function chunkedReader(reader: ByteReader): () => Promise<Uint8Array | null> {
  let remaining = 0;
  let done = false;
  return async () => {
    if (done) return null;
    if (remaining === 0) {
      const size = chunkSize(await readLine(reader, MAX_CHUNK_LINE_BYTES, "a chunk-size line"));
      if (size === 0) {
        await skipTrailers(reader);
        done = true;
        return null;
      }
      remaining = size;
    }
    const chunk = await reader.readSome(remaining);
    if (chunk === null) throw new HttpParseError("the tunnel client's chunked body ended early");
    remaining -= chunk.byteLength;
    if (remaining === 0) await expectCrlf(reader);
    return chunk;
  };
}

/** The size a chunk-size line announces (RFC 9112 §7.1); anything else is refused. */
function chunkSize(line: string): number {
  const match = CHUNK_SIZE_LINE.exec(line);
  const digits = match?.[1].replace(/^0+(?=[0-9A-Fa-f])/, "");
  if (digits === undefined || digits.length > MAX_CHUNK_SIZE_DIGITS) {
    throw new HttpParseError("bad chunk size from the tunnel client");
  }
  return parseInt(digits, 16);
}

/** Reads the trailer section up to its empty line, checking and dropping each field. */
async function skipTrailers(reader: ByteReader): Promise<void> {
  let total = 0;
  while (true) {
    const line = await readLine(reader, MAX_TRAILER_BYTES - total, "the trailers");
    if (line === "") return;
    parseHeaderLines([line]);
    total += line.length + 2;
  }
}

/** The data of a chunk is followed by exactly CRLF. */
async function expectCrlf(reader: ByteReader): Promise<void> {
  let end: Uint8Array;
  try {
    end = await reader.readExact(2);
  } catch (error) {
    if (error instanceof ByteReaderError) {
      throw new HttpParseError("the tunnel client's chunked body ended early");
    }
    throw error;
  }
  if (end[0] !== 13 || end[1] !== 10) {
    throw new HttpParseError("the tunnel client's chunk data does not end in CRLF");
  }
}

/** One CRLF-terminated line of a chunked body, as latin1; refuses long, cut or bare-LF lines. */
async function readLine(reader: ByteReader, maxBytes: number, what: string): Promise<string> {
  let raw: Uint8Array | null;
  try {
    raw = await reader.readUntil(CRLF, maxBytes);
  } catch (error) {
    if (!(error instanceof ByteReaderError)) throw error;
    throw new HttpParseError(
      error.code === "too_large"
        ? `the tunnel client's chunked body has ${what} over ${maxBytes} bytes`
        : "the tunnel client's chunked body ended early",
    );
  }
  if (raw === null) throw new HttpParseError("the tunnel client's chunked body ended early");
  const line = latin1.decode(raw);
  if (line.includes("\r") || line.includes("\n")) {
    throw new HttpParseError(`the tunnel client's chunked body has a bare CR or LF in ${what}`);
  }
  return line;
}
