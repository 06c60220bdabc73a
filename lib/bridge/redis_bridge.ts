/**
 * A {@link Bridge} over Redis pub/sub, for isolates on several machines (`WSTUN_REDIS_URL`):
 * one channel per isolate, `<namespace>:isolate:<id>`, and `<namespace>:all` for broadcasts.
 *
 * Messages travel as JSON, bytes as `{"$bytes": "<base64>"}`. Each channel has an outbox
 * (redis_outbox.ts): while Redis is away, or the receiver is between reconnects (a publish that
 * reached no subscriber), messages wait and go out in order once it is back, so a short outage
 * loses nothing; past the outbox's bounds (`WSTUN_BRIDGE_OUTBOX_BYTES`, `WSTUN_BRIDGE_TIMEOUT_MS`)
 * they are dropped and the receiver reports the gap (`bridge_gap`). Redis pub/sub keeps
 * per-connection order; messages re-sent after a failure may overtake later ones, which the
 * receiver puts back in order ({@link RedisBridge.redelivers}).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Logger } from "../log.ts";
import type { Bridge, BridgeMessage } from "./bridge.ts";
import { type OutboxLimits, RedisOutbox } from "./redis_outbox.ts";
import { closeRedis, connectRedis, type RedisClient } from "./redis_connection.ts";

export class RedisBridge implements Bridge {
  readonly redelivers = true;
  readonly #outboxes = new Map<string, RedisOutbox>();

  private constructor(
    readonly namespace: string,
    readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
    readonly limits: OutboxLimits,
    readonly log: Logger,
  ) {}

  static async connect(
    url: string,
    namespace: string,
    limits: OutboxLimits,
    log: Logger = new Logger(),
  ): Promise<RedisBridge> {
    const publisher = await connectRedis(url, "bridge", log);
    try {
      const subscriber = await connectRedis(url, "bridge subscriber", log);
      return new RedisBridge(namespace, publisher, subscriber, limits, log);
    } catch (err) {
      closeRedis(publisher);
      throw err;
    }
  }

  listen(isolate: string, receive: (message: unknown) => void): void {
    const onMessage = (text: string) => {
      let message: unknown;
      try {
        message = decode(text);
      } catch {
        message = text; // not JSON: the cluster refuses it (and counts it)
      }
      receive(message);
    };
    for (const channel of [this.#inbox(isolate), this.#all()]) {
      this.subscriber.subscribe(channel, onMessage).catch((err: Error) =>
        this.log.error("bridge.subscribe_failed", { channel, error: err.message })
      );
    }
  }

  broadcast(message: BridgeMessage): void {
    this.#outbox(this.#all(), false).push(encode(message));
  }

  post(isolate: string, message: BridgeMessage): void {
    this.#outbox(this.#inbox(isolate), true).push(encode(message));
  }

  forget(isolate: string): void {
    const channel = this.#inbox(isolate);
    this.#outboxes.get(channel)?.close();
    this.#outboxes.delete(channel);
  }

  close(): Promise<void> {
    for (const outbox of this.#outboxes.values()) outbox.close();
    this.#outboxes.clear();
    closeRedis(this.subscriber);
    closeRedis(this.publisher);
    return Promise.resolve();
  }

  #outbox(channel: string, needsReceiver: boolean): RedisOutbox {
    let outbox = this.#outboxes.get(channel);
    if (!outbox) {
      const publish = (text: string) => this.publisher.publish(channel, text);
      outbox = new RedisOutbox(publish, this.limits, needsReceiver);
      this.#outboxes.set(channel, outbox);
    }
    return outbox;
  }

  #inbox(isolate: string): string {
    return `${this.namespace}:isolate:${isolate}`;
  }

  #all(): string {
    return `${this.namespace}:all`;
  }
}

function encode(message: BridgeMessage): string {
  return JSON.stringify(
    message,
    (_key, value) =>
      value instanceof Uint8Array
        ? { $bytes: Buffer.from(value.buffer, value.byteOffset, value.length).toString("base64") }
        : value,
  );
}

function decode(text: string): unknown {
  return JSON.parse(text, (_key, value) => {
    if (value === null || typeof value !== "object" || typeof value.$bytes !== "string") {
      return value;
    }
    const buf = Buffer.from(value.$bytes, "base64");
    return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  });
}
