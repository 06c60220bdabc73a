/**
 * A buffered reader over a byte stream, for the few places WSTun parses bytes itself (HTTP/1.1
 * heads, chunked bodies, WebSocket frames on a TCP connection or inside a wsmux stream).
 *
 * It reads one chunk at a time from the underlying stream and never reads ahead further than the
 * caller asks, so the stream's flow control (wsmux credit) still reflects what was consumed.
 *
 * @module
 */

/** Raised when a limit is hit or input ends mid-structure; `code` names which. */
export class ByteReaderError extends Error {
  constructor(readonly code: "too_large" | "unexpected_eof", message: string) {
    super(message);
    this.name = "ByteReaderError";
  }
}

/**
 * Where a {@link ByteReader}'s bytes come from: a stream, or a function that returns the next
 * chunk (null at the end). The function form spares a socket's reads the stream machinery, a few
 * µs per chunk on the UDP tools' link, where nearly every chunk is one frame.
 */
export type ByteSource = ReadableStream<Uint8Array> | (() => Promise<Uint8Array | null>);

export class ByteReader {
  #next: () => Promise<Uint8Array | null>;
  #cancel: (reason?: unknown) => Promise<void>;
  #buffer: Uint8Array = new Uint8Array(0);
  #eof = false;

  constructor(source: ByteSource) {
    if (typeof source === "function") {
      this.#next = source;
      this.#cancel = () => Promise.resolve();
      return;
    }
    const reader = source.getReader();
    this.#next = () => reader.read().then((result) => result.done ? null : result.value);
    this.#cancel = (reason) => reader.cancel(reason);
  }

  /** Bytes read from the stream but not yet consumed. */
  get buffered(): number {
    return this.#buffer.byteLength;
  }

  /** The bytes read and not yet consumed, without consuming them (a view: copy what you keep). */
  peek(): Uint8Array {
    return this.#buffer;
  }

  /** Consumes `n` bytes that {@link peek} showed. */
  skip(n: number): void {
    this.#buffer = this.#buffer.subarray(Math.min(n, this.#buffer.byteLength));
  }

  /** Reads one more chunk into the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    const value = await this.#next();
    if (value === null) {
      this.#eof = true;
      return false;
    }
    this.#buffer = this.#buffer.byteLength === 0 ? value : concat(this.#buffer, value);
    return true;
  }

  /**
   * Returns the bytes before `delimiter` and consumes both. Null when the stream ends with nothing
   * buffered; throws `too_large` past `maxBytes`, `unexpected_eof` if it ends mid-way.
   */
  async readUntil(delimiter: Uint8Array, maxBytes: number): Promise<Uint8Array | null> {
    let searchFrom = 0;
    while (true) {
      const at = indexOf(this.#buffer, delimiter, searchFrom);
      if (at >= 0) {
        const out = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.subarray(at + delimiter.byteLength);
        return out;
      }
      if (this.#buffer.byteLength > maxBytes) {
        throw new ByteReaderError("too_large", `more than ${maxBytes} bytes without a delimiter`);
      }
      searchFrom = Math.max(0, this.#buffer.byteLength - delimiter.byteLength + 1);
      if (!(await this.fill())) {
        if (this.#buffer.byteLength === 0) return null;
        throw new ByteReaderError("unexpected_eof", "stream ended before a delimiter");
      }
    }
  }

  /** Returns exactly `n` bytes; throws `unexpected_eof` if the stream ends first. */
  async readExact(n: number): Promise<Uint8Array> {
    while (this.#buffer.byteLength < n) {
      if (!(await this.fill())) {
        throw new ByteReaderError(
          "unexpected_eof",
          `stream ended ${n - this.#buffer.byteLength} bytes short`,
        );
      }
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Returns buffered bytes (at most `max`) or the next chunk; null at end of stream. */
  async readSome(max = Infinity): Promise<Uint8Array | null> {
    if (this.#buffer.byteLength === 0 && !(await this.fill())) return null;
    const n = Math.min(max, this.#buffer.byteLength);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Stops reading and cancels the underlying stream (a chunk function is simply not called). */
  async cancel(reason?: unknown): Promise<void> {
    this.#eof = true;
    this.#buffer = new Uint8Array(0);
    await this.#cancel(reason);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.byteLength - needle.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}
