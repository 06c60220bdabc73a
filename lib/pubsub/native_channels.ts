/**
 * Channel requests on the native `/_ws` protocol for one connection: `subscribe`, `unsubscribe`,
 * `publish` (JSON) and binary publishes (kind 0x02), and delivery as `message` frames.
 *
 * Unlike `/ws`, nothing is refused silently: every refusal is an `error` frame with a code and the
 * request's `ref` (and the `channel`); a request with a `ref` that succeeds is answered
 * `{"type":"ok","ref"}`, as protocol v1 answers every request without a natural response. When the
 * authorizer is down the request gets `error` `authorizer_unavailable` and the connection is then
 * closed with its close (4503, lib/errors/error_table.ts), so the client reconnects later.
 *
 * Requests of one connection run in arrival order, including while one waits for the authorizer,
 * so a client's publishes reach the channel in the order it sent them.
 *
 * The connection is reached through {@linkcode NativeChannelPeer}, so this module knows nothing of
 * the hub's connection object; the hub calls {@linkcode NativeChannels.request},
 * {@linkcode NativeChannels.binary} and {@linkcode NativeChannels.closed}.
 *
 * @module
 */
import {
  type ChannelRequest,
  type Disconnect,
  Disconnects,
  ErrorCode,
  type Ref,
} from "../protocol.ts";
import type { AuthorizerRequest } from "./authorizer.ts";
import { type ChannelDelivery, decodeChannelBinary } from "./channel_message.ts";
import type { ChannelSubscriber } from "./channel_registry.ts";
import { WstunError } from "../errors/wstun_error.ts";
import { errorClose, errorFrame } from "../errors/error_edges.ts";
import { checkChannelName, checkPublishSize, PublishRate, utf8Length } from "./limits.ts";
import type { PubSub } from "./pubsub.ts";
import { OrderedQueue } from "./ordered_queue.ts";

/** What pub/sub needs from a `/_ws` connection. */
export interface NativeChannelPeer {
  /** Queues a frame to this client (the connection applies its own backpressure); may throw. */
  send(frame: string | Uint8Array<ArrayBuffer>): void;
  close(disconnect: Disconnect): void;
  /** Counts a refusal sent to this client, by its code (`wstun_refusals_total`). */
  refused?(code: string): void;
  /** Sent as `from` with this connection's publishes; absent = deliveries carry no `from`. */
  readonly id?: string;
  /** The upgrade's headers and query, forwarded to the authorizer as `client` (tokens removed). */
  readonly client?: AuthorizerRequest["client"];
}

/** The pub/sub side of one `/_ws` connection. */
export class NativeChannels implements ChannelSubscriber {
  #peer: NativeChannelPeer;
  #pubsub: PubSub;
  #rate: PublishRate;
  #queue: OrderedQueue;
  #closed = false;

  constructor(peer: NativeChannelPeer, pubsub: PubSub, maxQueued = 1024) {
    this.#peer = peer;
    this.#pubsub = pubsub;
    this.#rate = new PublishRate(pubsub.config.maxPublishesPerSec, pubsub.now);
    this.#queue = new OrderedQueue(maxQueued, () => this.#close(Disconnects.Internal));
  }

  /** Sends a channel message as a `message` text frame or a kind-0x02 binary frame. */
  deliver(delivery: ChannelDelivery): void {
    this.#peer.send(delivery.nativeFrame());
  }

  /** Handles a channel request validated with protocol.ts's `ChannelRequest` schema. */
  request(req: ChannelRequest): void {
    this.#enqueue(req.ref, req.channel, () => {
      switch (req.type) {
        case "subscribe":
          return this.#subscribe(req.channel, req.ref);
        case "unsubscribe":
          return this.#unsubscribe(req.channel, req.ref);
        case "publish":
          return this.#publishJson(req.channel, req.data, req.ref);
        default:
          req satisfies never;
      }
    });
  }

  /** Handles a binary frame whose kind byte is 0x02 (a channel publish). */
  binary(frame: Uint8Array<ArrayBuffer>): void {
    const decoded = decodeChannelBinary(frame);
    if (!decoded.ok) {
      return this.#error(
        new WstunError(ErrorCode.InvalidMessage, decoded.message),
        undefined,
      );
    }
    if (decoded.peer !== "") {
      return this.#error(
        new WstunError(
          ErrorCode.InvalidMessage,
          "binary channel publish: the peer field must be empty",
        ),
        undefined,
        decoded.channel,
      );
    }
    const { channel, payload } = decoded;
    this.#enqueue(undefined, channel, () => this.#publish(channel, undefined, { bytes: payload }));
  }

  /** The connection closed: leave every channel, drop queued requests. */
  closed(): void {
    this.#closed = true;
    this.#queue.stop();
    this.#pubsub.registry.unsubscribeAll(this);
  }

  #enqueue(ref: Ref, channel: string, task: () => Promise<void> | void): void {
    if (this.#closed) return;
    if (!this.#queue.push(task)) {
      this.#error(
        new WstunError(
          ErrorCode.RateLimited,
          "too many channel requests waiting for the authorizer",
        ),
        ref,
        channel,
      );
    }
  }

  #subscribe(channel: string, ref: Ref): Promise<void> | void {
    const { registry, config } = this.#pubsub;
    const invalid = checkChannelName(channel, config.channelNameMax);
    if (invalid) return this.#error(invalid, ref, channel);
    // Refused before asking the authorizer: a duplicate changes nothing.
    if (registry.isSubscribed(this, channel)) {
      return this.#error(
        new WstunError(
          ErrorCode.AlreadySubscribed,
          `already subscribed to ${JSON.stringify(channel)}`,
        ),
        ref,
        channel,
      );
    }
    return this.#authorized("join", { channel }, ref, channel, () => {
      const refused = registry.subscribe(this, channel);
      if (refused) return this.#error(refused, ref, channel);
      this.#ok(ref);
    });
  }

  #unsubscribe(channel: string, ref: Ref): Promise<void> | void {
    const { registry } = this.#pubsub;
    if (!registry.isSubscribed(this, channel)) {
      return this.#error(
        new WstunError(ErrorCode.NotSubscribed, `not subscribed to ${JSON.stringify(channel)}`),
        ref,
        channel,
      );
    }
    return this.#authorized("leave", { channel }, ref, channel, () => {
      registry.unsubscribe(this, channel);
      this.#ok(ref);
    });
  }

  #publishJson(channel: string, data: unknown, ref: Ref): Promise<void> | void {
    if (data === undefined) {
      return this.#error(
        new WstunError(ErrorCode.InvalidMessage, "data: required"),
        ref,
        channel,
      );
    }
    return this.#publish(channel, ref, { json: JSON.stringify(data), data });
  }

  #publish(
    channel: string,
    ref: Ref,
    content: { json: string; data: unknown } | { bytes: Uint8Array<ArrayBuffer> },
  ): Promise<void> | void {
    const { registry, config } = this.#pubsub;
    const invalid = checkChannelName(channel, config.channelNameMax);
    if (invalid) return this.#error(invalid, ref, channel);
    const size = "json" in content ? utf8Length(content.json) : content.bytes.byteLength;
    const tooBig = checkPublishSize(size, config.maxPublishBytes);
    if (tooBig) return this.#error(tooBig, ref, channel);
    const limited = this.#rate.take();
    if (limited) return this.#error(limited, ref, channel);
    // The authorizer sees wsify's broadcast shape; a binary payload is described by its size.
    const args = "json" in content ? { channel, content: content.data } : { channel, bytes: size };
    return this.#authorized("broadcast", args, ref, channel, () => {
      registry.publish({
        channel,
        from: this.#peer.id,
        payload: "json" in content
          ? { kind: "json", json: content.json }
          : { kind: "binary", bytes: content.bytes },
      });
      this.#ok(ref);
    });
  }

  /** Runs `apply` when allowed; answers `unauthorized`, or `authorizer_unavailable` and closes. */
  #authorized(
    command: "join" | "leave" | "broadcast",
    args: Record<string, unknown>,
    ref: Ref,
    channel: string,
    apply: () => void,
  ): Promise<void> | void {
    const { authorizer } = this.#pubsub;
    if (!authorizer.asks(command)) return apply();
    return authorizer.check({ command, args, client: this.#peer.client }).then((verdict) => {
      if (this.#closed) return;
      if (verdict === "allowed") return apply();
      if (verdict === "denied") {
        return this.#error(
          new WstunError(ErrorCode.Unauthorized, `the authorizer refused ${command}`),
          ref,
          channel,
        );
      }
      const down = new WstunError(
        ErrorCode.AuthorizerUnavailable,
        "the authorizer is down; reconnect later",
      );
      this.#error(down, ref, channel);
      this.#close(errorClose(down));
    });
  }

  #ok(ref: Ref): void {
    if (ref === undefined) return;
    this.#send(JSON.stringify({ type: "ok", ref }));
  }

  #error(error: WstunError, ref: Ref, channel?: string): void {
    this.#peer.refused?.(error.code);
    this.#send(JSON.stringify({ ...errorFrame(error, ref), channel }));
  }

  #send(frame: string): void {
    try {
      this.#peer.send(frame);
    } catch {
      // The connection is going away; its close handler cleans up.
    }
  }

  #close(disconnect: Disconnect): void {
    if (this.#closed) return;
    this.closed();
    try {
      this.#peer.close(disconnect);
    } catch {
      // Already closing.
    }
  }
}
