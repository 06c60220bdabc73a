/**
 * The pub/sub limits: channel name rules, publish size, and a per-connection publish rate.
 *
 * Channel names are 1..`WSTUN_CHANNEL_NAME_MAX` UTF-8 bytes (never more than 255, the binary
 * header's u8 length field) of any Unicode except control characters (C0, DEL, C1), which would
 * make logs and listings ambiguous. Anything else is accepted so that existing wsify channel names
 * keep working.
 *
 * @module
 */
import { WstunError } from "../errors/wstun_error.ts";
import { ErrorCode } from "../protocol.ts";

// deno-lint-ignore no-control-regex -- matching control characters is the point of this rule
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns why `name` is not a valid channel name, or undefined when it is. */
export function checkChannelName(name: unknown, maxBytes: number): WstunError | undefined {
  if (typeof name !== "string" || name.length === 0) {
    return new WstunError(ErrorCode.InvalidChannel, "channel: must be a non-empty string");
  }
  if (CONTROL_CHARS.test(name)) {
    return new WstunError(
      ErrorCode.InvalidChannel,
      "channel: must not contain control characters",
    );
  }
  // Cheap length test first: a string of n UTF-16 units encodes to at most 3n bytes.
  if (name.length * 3 > maxBytes && utf8Length(name) > maxBytes) {
    return new WstunError(
      ErrorCode.InvalidChannel,
      `channel: longer than ${maxBytes} bytes (WSTUN_CHANNEL_NAME_MAX)`,
    );
  }
  return undefined;
}

/** UTF-8 length of `text`, computed without encoding when it is short enough not to matter. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // a surrogate pair: one 4-byte code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Returns a `publish_too_large` error when `bytes` exceeds `maxBytes` (0 = no limit). */
export function checkPublishSize(bytes: number, maxBytes: number): WstunError | undefined {
  if (maxBytes === 0 || bytes <= maxBytes) return undefined;
  return new WstunError(
    ErrorCode.PublishTooLarge,
    `payload of ${bytes} bytes exceeds ${maxBytes} bytes (WSTUN_MAX_PUBLISH_BYTES)`,
  );
}

/**
 * A token bucket of `perSec` publishes per second holding at most one second's worth, so a client
 * may burst up to `perSec` and then sustain `perSec`. `perSec` 0 disables the limit.
 */
export class PublishRate {
  #perSec: number;
  #now: () => number;
  #tokens: number;
  #last: number;

  constructor(perSec: number, now: () => number = Date.now) {
    this.#perSec = perSec;
    this.#now = now;
    this.#tokens = perSec;
    this.#last = now();
  }

  /** Takes one publish from the bucket; returns a `rate_limited` error when it is empty. */
  take(): WstunError | undefined {
    if (this.#perSec === 0) return undefined;
    const now = this.#now();
    const refill = ((now - this.#last) / 1000) * this.#perSec;
    this.#tokens = Math.min(this.#perSec, this.#tokens + refill);
    this.#last = now;
    if (this.#tokens < 1) {
      return new WstunError(
        ErrorCode.RateLimited,
        `more than ${this.#perSec} publishes per second (WSTUN_MAX_PUBLISHES_PER_SEC)`,
      );
    }
    this.#tokens -= 1;
    return undefined;
  }
}
