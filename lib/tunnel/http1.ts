/**
 * Just enough HTTP/1.1 to carry a viewer's request through a wsmux stream and read the answer,
 * the way websocktunnel's server does (the client pipes the bytes to its local port unchanged).
 *
 * Guarantees: heads are bounded (`maxHeadBytes`); bodies are streamed, never buffered whole, and
 * pulled only as fast as the consumer reads (so stream credit follows the viewer's pace); a
 * malformed answer raises {@link HttpParseError}, which the proxy turns into a 502.
 *
 * @module
 */
import { ByteReader, ByteReaderError } from "./byte_reader.ts";

const CRLF = new Uint8Array([13, 10]);
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const encoder = new TextEncoder();

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

/** Reads a response head, skipping interim 1xx answers other than 101. */
export async function readResponseHead(
  reader: ByteReader,
  maxHeadBytes: number,
): Promise<ResponseHead> {
  while (true) {
    const raw = await readHead(reader, maxHeadBytes);
    const [statusLine, ...lines] = raw.split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!match) throw new HttpParseError("the tunnel client's answer is not an HTTP/1.x response");
    const status = Number(match[1]);
    const headers = parseHeaderLines(lines);
    if (status >= 100 && status < 200 && status !== 101) continue;
    return { status, statusText: match[2] ?? "", headers };
  }
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
  const te = header(head.headers, "transfer-encoding")?.toLowerCase() ?? "";
  const length = header(head.headers, "content-length");
  let next: () => Promise<Uint8Array | null>;
  if (te.split(",").map((s) => s.trim()).includes("chunked")) {
    next = chunkedReader(reader);
  } else if (length !== undefined) {
    if (!/^\d+$/.test(length)) {
      throw new HttpParseError("bad Content-Length from the tunnel client");
    }
    next = lengthReader(reader, Number(length));
  } else {
    next = () => reader.readSome();
  }
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
  return new TextDecoder("latin1").decode(raw);
}

function parseHeaderLines(lines: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpParseError("malformed header line from the tunnel client");
    const name = line.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new HttpParseError("malformed header name from the tunnel client");
    }
    out.push([name, line.slice(colon + 1).trim()]);
  }
  return out;
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
      const sizeLine = await reader.readUntil(CRLF, 1024);
      if (sizeLine === null) {
        throw new HttpParseError("the tunnel client's chunked body ended early");
      }
      const size = parseInt(new TextDecoder().decode(sizeLine).split(";")[0].trim(), 16);
      if (!Number.isFinite(size) || size < 0) throw new HttpParseError("bad chunk size");
      if (size === 0) {
        // Trailers are dropped: read lines until the empty one.
        while (true) {
          const line = await reader.readUntil(CRLF, 8192);
          if (line === null || line.byteLength === 0) break;
        }
        done = true;
        return null;
      }
      remaining = size;
    }
    const chunk = await reader.readSome(remaining);
    if (chunk === null) throw new HttpParseError("the tunnel client's chunked body ended early");
    remaining -= chunk.byteLength;
    if (remaining === 0) await reader.readExact(2);
    return chunk;
  };
}
