/**
 * A {@link Bridge} over Redis pub/sub, for isolates on several machines (`WSTUN_REDIS_URL`):
 * one channel per isolate, `<namespace>:isolate:<id>`, like the BroadcastChannel bridge.
 *
 * Envelopes travel as JSON with binary payloads in base64. A publish that fails (Redis away) is
 * lost on purpose: the next envelope on that link arrives with a higher sequence number and the
 * receiver reports the gap (`bridge_gap`), so nothing waits on Redis and nothing is lost silently.
 * Redis pub/sub keeps per-connection order, so one sender's envelopes arrive in order.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Bridge, BridgeBody, Envelope } from "./bridge.ts";
import { closeRedis, connectRedis, type RedisClient } from "./redis_connection.ts";

export class RedisBridge implements Bridge {
  private constructor(
    readonly namespace: string,
    readonly publisher: RedisClient,
    readonly subscriber: RedisClient,
  ) {}

  static async connect(url: string, namespace = "wstun"): Promise<RedisBridge> {
    const publisher = await connectRedis(url, "bridge");
    try {
      const subscriber = await connectRedis(url, "bridge subscriber");
      return new RedisBridge(namespace, publisher, subscriber);
    } catch (err) {
      closeRedis(publisher);
      throw err;
    }
  }

  listen(isolate: string, receive: (envelope: Envelope) => void): void {
    const onMessage = (message: string) => receive(decode(message));
    for (const channel of [this.#name(isolate), `${this.namespace}:all`]) {
      this.subscriber.subscribe(channel, onMessage).catch((err: Error) =>
        console.error(`wstun bridge: cannot subscribe: ${err.message}`)
      );
    }
  }

  broadcast(envelope: Envelope): void {
    this.publisher.publish(`${this.namespace}:all`, encode(envelope)).catch(() => {
      // Lost: receivers see the gap in the sender's broadcast sequence and report it.
    });
  }

  post(isolate: string, envelope: Envelope): void {
    this.publisher.publish(this.#name(isolate), encode(envelope)).catch(() => {
      // Lost: the receiver sees the gap in the link's sequence numbers and reports it.
    });
  }

  close(): Promise<void> {
    closeRedis(this.subscriber);
    closeRedis(this.publisher);
    return Promise.resolve();
  }

  #name(isolate: string): string {
    return `${this.namespace}:isolate:${isolate}`;
  }
}

function encode(envelope: Envelope): string {
  const body = envelope.body;
  if (body.k === "bin" || body.k === "outbin") {
    return JSON.stringify({ ...envelope, body: { ...body, bytes: base64(body.bytes) } });
  }
  if (body.k === "chpub" && body.message.payload.kind === "binary") {
    const payload = { kind: "binary", base64: base64(body.message.payload.bytes) };
    return JSON.stringify({
      ...envelope,
      body: { ...body, message: { ...body.message, payload } },
    });
  }
  return JSON.stringify(envelope);
}

function decode(message: string): Envelope {
  const envelope = JSON.parse(message) as Envelope;
  const body = envelope.body as BridgeBody & { bytes?: unknown };
  if ((body.k === "bin" || body.k === "outbin") && typeof body.bytes === "string") {
    const buf = Buffer.from(body.bytes, "base64");
    body.bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  }
  if (body.k === "chpub") {
    const payload = body.message.payload as { kind: string; base64?: string };
    if (payload.kind === "binary" && typeof payload.base64 === "string") {
      const buf = Buffer.from(payload.base64, "base64");
      const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      body.message = { ...body.message, payload: { kind: "binary", bytes } };
    }
  }
  return envelope;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
}
