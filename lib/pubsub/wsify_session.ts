/**
 * One `/ws` connection speaking wsify's protocol, unchanged for its clients.
 *
 * Client frames are `{"command": "join"|"leave"|"broadcast", "args": {"channel", "content"}}`;
 * a subscriber receives the JSON of `content` alone, as a text frame, and a sender that joined the
 * channel receives its own broadcast. Commands run one at a time in arrival order (each may wait
 * for the authorizer), so a client's broadcasts reach the channel in the order it sent them.
 *
 * Where wsify is silent this session is silent too (the protocol has no error frame): a frame that
 * is not JSON, an unknown command, an empty channel, a denied command, a second join, a leave of a
 * channel not joined. Where WSTun adds something wsify could not report in-band it closes the
 * socket with a code and a reason instead of dropping silently:
 * - the authorizer is down: `authorizer_unavailable`'s close (4503; the client reconnects);
 * - a WSTun limit (channel name, channels per connection, publish size or rate, queued commands):
 *   `Disconnects.ChannelLimit` (4400) with the error code as the reason.
 *
 * @module
 */
import type { Authorizer } from "./authorizer.ts";
import type { ChannelDelivery } from "./channel_message.ts";
import type { ChannelRegistry, ChannelSubscriber } from "./channel_registry.ts";
import type { PubSubConfig } from "./config.ts";
import { WstunError } from "../errors/wstun_error.ts";
import { errorClose } from "../errors/error_edges.ts";
import { type Disconnect, Disconnects, ErrorCode, withReason } from "../protocol.ts";
import { OrderedQueue } from "./ordered_queue.ts";
import { checkChannelName, checkPublishSize, PublishRate, utf8Length } from "./limits.ts";

/** The part of a WebSocket a session uses; Deno's server-side socket satisfies it. */
export interface SessionSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
}

export interface WsifySessionDeps {
  registry: ChannelRegistry;
  authorizer: Authorizer;
  config: PubSubConfig;
  /** Incoming frames larger than this close the socket with 1009; 0 = no limit. */
  maxFrameBytes?: number;
  /** Outgoing bytes a socket may have buffered before it is closed as too slow (1013). */
  maxBufferedBytes?: number;
  /** Commands that may wait for the authorizer at once before the socket is closed. */
  maxQueuedCommands?: number;
  now?: () => number;
  /** Counts the frames sent (the server's `Stats`: `wstun_frames_total{kind="channel"}`). */
  counters?: ChannelFrameCounters;
}

/** Where a session counts the frames it sends; plain fields, one addition per frame. */
export interface ChannelFrameCounters {
  channelFramesOut: number;
  channelBytesOut: number;
}

interface WsifyMessage {
  command: unknown;
  args: unknown;
}

const OPEN = 1;

/** A `/ws` connection: parses wsify commands, runs them in order, receives channel messages. */
export class WsifySession implements ChannelSubscriber {
  #socket: SessionSocket;
  #deps: WsifySessionDeps;
  #rate: PublishRate;
  #queue: OrderedQueue;
  #closed = false;

  constructor(socket: SessionSocket, deps: WsifySessionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.#rate = new PublishRate(deps.config.maxPublishesPerSec, deps.now);
    // A throwing command is a bug, not a client error: close rather than stay half-working.
    this.#queue = new OrderedQueue(
      deps.maxQueuedCommands ?? 1024,
      () => this.#close(Disconnects.Internal),
    );
  }

  /** Sends a channel message as wsify does: the content's JSON alone. */
  deliver(delivery: ChannelDelivery): void {
    if (this.#socket.readyState !== OPEN) throw new Error("socket is not open");
    if (this.#socket.bufferedAmount > (this.#deps.maxBufferedBytes ?? 8 * 1024 * 1024)) {
      this.#close(withReason(Disconnects.SlowConsumer, "too slow to drain its queue"));
      throw new Error("subscriber too slow");
    }
    const frame = delivery.wsifyFrame();
    this.#socket.send(frame);
    const counters = this.#deps.counters;
    if (counters) {
      counters.channelFramesOut++;
      counters.channelBytesOut += frame.length;
    }
  }

  /** Takes one incoming frame; commands run in arrival order. */
  receive(data: string | ArrayBuffer | Uint8Array): void {
    if (this.#closed) return;
    const max = this.#deps.maxFrameBytes ?? 0;
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (max > 0 && size > max && (typeof data !== "string" || utf8Length(data) > max)) {
      this.#close(withReason(Disconnects.TooBig, "frame too big"));
      return;
    }
    const message = parseWsifyMessage(data);
    if (!message) return; // wsify ignores what it cannot decode
    if (!this.#queue.push(() => this.#run(message))) {
      this.#refuse(new WstunError(ErrorCode.RateLimited, "too many commands waiting"));
    }
  }

  /** The socket closed: leave every channel and forget queued commands. */
  closed(): void {
    this.#closed = true;
    this.#queue.stop();
    this.#deps.registry.unsubscribeAll(this);
  }

  #run(message: WsifyMessage): Promise<void> | void {
    switch (message.command) {
      case "join":
        return this.#join(message);
      case "leave":
        return this.#leave(message);
      case "broadcast":
        return this.#broadcast(message);
      default:
        return; // wsify ignores unknown commands
    }
  }

  #join(message: WsifyMessage): Promise<void> | void {
    const channel = channelOf(message);
    if (channel === "") return;
    const invalid = checkChannelName(channel, this.#deps.config.channelNameMax);
    if (invalid) return this.#refuse(invalid);
    // A second join changes nothing, so it needs no authorization (and never duplicates delivery).
    if (this.#deps.registry.isSubscribed(this, channel)) return;
    return this.#authorized("join", message, () => {
      const refused = this.#deps.registry.subscribe(this, channel);
      if (refused && refused.code !== ErrorCode.AlreadySubscribed) this.#refuse(refused);
    });
  }

  #leave(message: WsifyMessage): Promise<void> | void {
    const channel = channelOf(message);
    // Leaving a channel never joined is a no-op (wsify hangs the session here).
    if (!this.#deps.registry.isSubscribed(this, channel)) return;
    return this.#authorized("leave", message, () => {
      this.#deps.registry.unsubscribe(this, channel);
    });
  }

  #broadcast(message: WsifyMessage): Promise<void> | void {
    const channel = channelOf(message);
    if (channel === "") return;
    const { config } = this.#deps;
    const invalid = checkChannelName(channel, config.channelNameMax);
    if (invalid) return this.#refuse(invalid);
    const content = (message.args as Record<string, unknown> | null)?.content;
    const json = JSON.stringify(content ?? null);
    const tooBig = checkPublishSize(utf8Length(json), config.maxPublishBytes);
    if (tooBig) return this.#refuse(tooBig);
    const limited = this.#rate.take();
    if (limited) return this.#refuse(limited);
    return this.#authorized("broadcast", message, () => {
      this.#deps.registry.publish({ channel, payload: { kind: "json", json } });
    });
  }

  /**
   * Runs `apply` at once when the authorizer need not be asked; otherwise asks it and runs `apply`
   * only on "allowed". A denial is ignored, as wsify does; an outage closes the socket.
   */
  #authorized(
    command: "join" | "leave" | "broadcast",
    message: WsifyMessage,
    apply: () => void,
  ): Promise<void> | void {
    const { authorizer } = this.#deps;
    if (!authorizer.asks(command)) return apply();
    return authorizer.check({ command, args: message.args }).then((verdict) => {
      if (this.#closed) return;
      if (verdict === "unavailable") {
        return this.#refuse(
          new WstunError(ErrorCode.AuthorizerUnavailable, "the authorizer is down"),
        );
      }
      if (verdict === "allowed") apply();
    });
  }

  /** wsify's protocol has no error frame: a refusal closes (4400 with the code as the reason). */
  #refuse(error: WstunError): void {
    this.#close(errorClose(error));
  }

  #close(disconnect: Disconnect): void {
    if (this.#closed) return;
    this.closed();
    try {
      this.#socket.close(disconnect.code, disconnect.reason);
    } catch {
      // Already closing: the close event will follow anyway.
    }
  }
}

/** wsify reads `args.channel` as a string, trimmed; anything else is the empty channel. */
function channelOf(message: WsifyMessage): string {
  const channel = (message.args as Record<string, unknown> | null)?.channel;
  return typeof channel === "string" ? channel.trim() : "";
}

const decoder = new TextDecoder();

/** Decodes a wsify command, or undefined when the frame is not a JSON object. */
export function parseWsifyMessage(
  data: string | ArrayBuffer | Uint8Array,
): WsifyMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === "string" ? data : decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { command, args } = value as Record<string, unknown>;
  // Like wsify's Go struct, only `command` and `args` exist; `args` that is not an object is null.
  const argsObject = typeof args === "object" && args !== null && !Array.isArray(args)
    ? args
    : null;
  return { command, args: argsObject };
}
