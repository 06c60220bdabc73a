// @ts-check
/**
 * libwstun.js — the WSTun client library for protocol v1 (see docs/protocol.md).
 *
 * One ES module for browser pages and for Deno (or any runtime with a WebSocket; pass your own as
 * `options.WebSocket`). It matches responses to requests by `ref` and returns promises, emits
 * every other frame as an event named by its `type`, and reconnects with backoff: after a
 * reconnect it re-joins each instance as the same userId and resumes each instance it hosts.
 * Pub/sub channels (docs/pubsub.md): `subscribe`, `unsubscribe`, `publish`, `publishBinary`;
 * deliveries are `message` events ({channel, data, from?}) and `channel_binary` events ({channel,
 * from, data}); subscriptions are renewed after a reconnect.
 *
 * @example
 * ```js
 * import { WSTunClient } from "/libwstun.js";
 * const client = new WSTunClient({ token: "secret" });
 * await client.connect();
 * const room = await client.createInstance({ service: "chat", name: "Team" });
 * client.on("client_connected", (f) => console.log(f.userId, "joined"));
 * client.on("chat", (f) => console.log(f.from, f.text));
 * client.send(room.uuid, "chat", { text: "hello" });
 * ```
 *
 * @module
 */

/** Binary frame kinds of the routing header. */
export const BinaryKind = Object.freeze({ InstanceData: 1, ChannelData: 2 });

/** Frame types that answer a request (matched by `ref`). */
const RESPONSE_TYPES = new Set([
  "instance_created",
  "ack",
  "instance_list",
  "ok",
  "error",
  "pong",
  "instance_resumed",
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A refused request: `code` is a protocol error code (or `timeout` / `disconnected`). */
export class WSTunError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, any>} [frame] the server frame that carried the error
   */
  constructor(code, message, frame) {
    super(message);
    this.name = "WSTunError";
    this.code = code;
    this.frame = frame;
  }
}

/**
 * Builds a binary frame: `u8 kind | u8 idLen | u8 peerLen | id | peer | payload`.
 * @param {number} kind
 * @param {string} id instance uuid (or channel)
 * @param {string} peer target userId; "" for the default target
 * @param {Uint8Array | ArrayBuffer} payload
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodeBinaryFrame(kind, id, peer, payload) {
  const idBytes = encoder.encode(id);
  const peerBytes = encoder.encode(peer);
  if (idBytes.length < 1 || idBytes.length > 255 || peerBytes.length > 255) {
    throw new RangeError("id must be 1-255 bytes and peer at most 255 bytes");
  }
  const body = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const out = new Uint8Array(3 + idBytes.length + peerBytes.length + body.length);
  out[0] = kind;
  out[1] = idBytes.length;
  out[2] = peerBytes.length;
  out.set(idBytes, 3);
  out.set(peerBytes, 3 + idBytes.length);
  out.set(body, 3 + idBytes.length + peerBytes.length);
  return out;
}

/**
 * Reads a binary frame from the server.
 * @param {ArrayBuffer | Uint8Array} data
 * @returns {{ kind: number, id: string, from: string, data: Uint8Array } | null}
 */
export function decodeBinaryFrame(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 3) return null;
  const idEnd = 3 + bytes[1];
  const peerEnd = idEnd + bytes[2];
  if (bytes.length < peerEnd) return null;
  return {
    kind: bytes[0],
    id: decoder.decode(bytes.subarray(3, idEnd)),
    from: decoder.decode(bytes.subarray(idEnd, peerEnd)),
    data: bytes.subarray(peerEnd),
  };
}

/**
 * @typedef {object} ClientOptions
 * @property {string} [url] the `/_ws` URL; defaults to the page's own server
 * @property {string} [token] the server token, if the server has one
 * @property {typeof WebSocket} [WebSocket] a WebSocket implementation (defaults to the global)
 * @property {boolean} [reconnect] reconnect after an unexpected close (default true)
 * @property {number} [requestTimeoutMs] how long a request waits for its answer (default 10000)
 * @property {number} [minBackoffMs] first reconnect delay (default 250)
 * @property {number} [maxBackoffMs] longest reconnect delay (default 10000)
 * @property {number} [maxQueuedFrames] data frames held while reconnecting (default 1000)
 * @property {number} [maxQueuedBytes] bytes of data frames held while reconnecting (default 4 MiB)
 * @property {number} [confirmEveryMs] how often to ask the server how many frames it took
 *   (a `ping`), so fewer frames are unconfirmed if the server dies (default 10000; 0 = never)
 */

/** Error codes after which a rejoin (or resume) is tried again: the instance is on its way. */
const RETRY_CODES = new Set([
  "host_away",
  "user_id_taken",
  "bridge_timeout",
  "bridge_unavailable",
  "timeout",
  "rate_limited",
]);

/** Close codes whose advice is to reconnect at once (docs/protocol.md, "Close codes"). */
const RECONNECT_NOW = new Set([1012]);
/**
 * After the server said it restarts (`draining`, 1012): attempts that fail while it comes back
 * are retried every 250–500 ms this many times before backing off as after any other close.
 */
const RESTART_RETRIES = 40;

/**
 * A WSTun connection with request/response by `ref`, events and reconnection.
 *
 * Continuity (docs/protocol.md, "Draining and moving rooms"): while the socket is down, or an
 * instance is moving to another isolate, `send` / `sendBinary` hold frames (bounded by
 * `maxQueuedFrames` / `maxQueuedBytes`; past that they throw `queue_full`) and send them, in
 * order, once the instance is joined or resumed again. When the server drains it says how many of
 * this socket's frames it took (`draining`); the rest are sent again after reconnecting, so each
 * reaches its recipients once. A member that comes back before its host keeps trying (the
 * server's `retryAfterMs`) until the host is back or the instance is gone (then an
 * `instance_closed` event, `reason: "host_left"`).
 */
export class WSTunClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    this.options = {
      reconnect: true,
      requestTimeoutMs: 10_000,
      minBackoffMs: 250,
      maxBackoffMs: 10_000,
      maxQueuedFrames: 1000,
      maxQueuedBytes: 4 * 1024 * 1024,
      confirmEveryMs: 10_000,
      ...options,
    };
    this.url = buildUrl(options.url, options.token);
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {Map<string, Set<(frame: any) => void>>} */
    this.handlers = new Map();
    /** @type {Map<string | number, { resolve: (f: any) => void, reject: (e: Error) => void, timer: any }>} */
    this.pending = new Map();
    /** Instances this client hosts: uuid → resume secret. @type {Map<string, string>} */
    this.hosted = new Map();
    /** Instances this client joined: uuid → how it joined. @type {Map<string, { userId: string, token?: string, resume?: string }>} */
    this.joined = new Map();
    /** Channels this client subscribed to, renewed after a reconnect. @type {Set<string>} */
    this.channels = new Set();
    this.nextRef = 1;
    this.attempt = 0;
    this.closedByUser = false;
    /** @type {any} */
    this.reconnectTimer = undefined;
    /** Data frames waiting for the socket or their instance, in order. @type {Queued[]} */
    this.queue = [];
    this.queuedBytes = 0;
    /** Instances whose frames wait: moving, or not rejoined since the last reconnect. @type {Set<string>} */
    this.waiting = new Set();
    /** Frames sent on this socket so far (what the server counts as `received`). */
    this.sentOnSocket = 0;
    /** Data frames sent on this socket and not yet confirmed taken. @type {Sent[]} */
    this.unconfirmed = [];
    /** Frames the server said it did not take before draining: sent again first. @type {Queued[]} */
    this.notTaken = [];
    /** @type {any} */
    this.confirmTimer = undefined;
    /** The server said it drains: nothing more goes on this socket. */
    this.serverDraining = false;
    /** Data frames of the last socket that ended without `draining`: they may not have arrived. */
    this.lastUnconfirmed = 0;
    /** Quick retries left while a restarting server comes back (see RESTART_RETRIES). */
    this.restartRetries = 0;
    /** Instances being resumed or rejoined now. @type {Map<string, Promise<any>>} */
    this.returning = new Map();
  }

  /** Opens the socket; resolves once it is open. */
  connect() {
    this.closedByUser = false;
    return new Promise((resolve, reject) => {
      const Impl = this.options.WebSocket ?? globalThis.WebSocket;
      const socket = new Impl(this.url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.attempt = 0;
        this.restartRetries = 0;
        this.sentOnSocket = 0;
        this.unconfirmed = [];
        this.serverDraining = false;
        this.#startConfirming();
        this.#emit("open", {});
        resolve(undefined);
      };
      socket.onmessage = (e) => this.#receive(e.data);
      socket.onerror = () => {
        if (!opened) reject(new WSTunError("disconnected", `cannot connect to ${this.url}`));
      };
      socket.onclose = (e) => this.#closed(socket, e.code, e.reason);
    });
  }

  /** Closes for good: no reconnection; frames still held are dropped. */
  close() {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.confirmTimer);
    this.queue = [];
    this.queuedBytes = 0;
    this.socket?.close(1000, "client closed");
  }

  /** Whether the socket is open now. */
  get connected() {
    return this.socket?.readyState === 1;
  }

  /** Bytes queued in the socket, for senders that pace themselves (file transfers). */
  get bufferedAmount() {
    return this.socket?.bufferedAmount ?? 0;
  }

  /**
   * Subscribes to frames of one `type` (a server frame type, an application data type,
   * "binary", "open", "close", "reconnect", "moved" (an instance that moved to another isolate is
   * back, or not: `{uuid, ok, error?}`), or "*" for every frame). Returns an unsubscribe.
   * @param {string} type
   * @param {(frame: any) => void} handler
   * @returns {() => void}
   */
  on(type, handler) {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, set = new Set());
    set.add(handler);
    return () => this.off(type, handler);
  }

  /**
   * @param {string} type
   * @param {(frame: any) => void} handler
   */
  off(type, handler) {
    this.handlers.get(type)?.delete(handler);
  }

  /**
   * Sends a request and resolves with its answer; rejects with a {@link WSTunError} on an
   * `error` frame, a failed `ack`, a time-out or a disconnect.
   * @param {Record<string, any>} frame
   * @returns {Promise<any>}
   */
  request(frame) {
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new WSTunError("timeout", `no answer to ${frame.type} in time`));
      }, this.options.requestTimeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      try {
        this.#sendRaw(JSON.stringify({ ...frame, ref }));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(ref);
        reject(err);
      }
    });
  }

  /**
   * Creates an instance this client hosts.
   * @param {{ service: string, name: string, token?: string }} options
   * @returns {Promise<{ uuid: string, name: string, service: string, resume: string }>}
   */
  async createInstance({ service, name, token }) {
    const created = await this.request({ type: "create_instance", service, name, token });
    this.hosted.set(created.uuid, created.resume);
    return created;
  }

  /**
   * Joins an instance as a member.
   * @param {{ uuid: string, userId?: string, token?: string }} options
   * @returns {Promise<{ uuid: string, userId: string, instanceName: string, service: string }>}
   */
  async joinInstance({ uuid, userId, token }) {
    return await this.#join({ uuid, userId, token });
  }

  /**
   * A join; `rejoin` after a reconnect or a move, so the server hands over what it held for this
   * member meanwhile (docs/protocol.md, "Draining and moving rooms"), with `resume` (the secret
   * of the last `ack`) so it takes its place back even while the old connection still counts.
   * @param {{ uuid: string, userId?: string, token?: string, rejoin?: boolean, resume?: string }} join
   */
  async #join({ uuid, userId, token, rejoin, resume }) {
    const ack = await this.request({ type: "join_instance", uuid, userId, token, rejoin, resume });
    this.joined.set(uuid, { userId: ack.userId, token, resume: ack.resume });
    return ack;
  }

  /** @param {string} uuid */
  async leaveInstance(uuid) {
    this.joined.delete(uuid);
    this.#forget(uuid);
    await this.request({ type: "leave_instance", uuid });
  }

  /**
   * @param {string} [service]
   * @returns {Promise<Array<{ uuid: string, name: string, service: string, protected: boolean, members: number, createdAt: string }>>}
   */
  async listInstances(service) {
    const list = await this.request({ type: "list_instances", service });
    return list.instances;
  }

  /**
   * @param {string} uuid
   * @param {string} userId
   * @param {string} [reason]
   */
  async kick(uuid, userId, reason) {
    await this.request({ type: "kick_client", uuid, userId, reason });
  }

  /** @param {string} uuid */
  async closeInstance(uuid) {
    await this.request({ type: "close_instance", uuid });
    this.hosted.delete(uuid);
    this.#forget(uuid);
  }

  /**
   * Takes back an instance after reconnecting (done automatically on reconnect).
   * @param {string} uuid
   * @param {string} resume the secret from `instance_created`
   */
  async resumeInstance(uuid, resume) {
    const resumed = await this.request({ type: "resume_instance", uuid, resume });
    this.hosted.set(uuid, resume);
    return resumed;
  }

  ping() {
    return this.request({ type: "ping" });
  }

  /**
   * Sends application data to an instance: to the host (from a member) or to every member (from
   * the host); `to` names one member or several instead. While the socket is down or the
   * instance is moving, the frame is held and sent once it is back (see the class).
   * @param {string} uuid
   * @param {string} type
   * @param {Record<string, any>} [data]
   * @param {{ to?: string | string[] }} [options]
   */
  send(uuid, type, data = {}, options = {}) {
    /** @type {Record<string, any>} */
    const frame = { ...data, type, uuid };
    if (options.to !== undefined) frame.to = options.to;
    this.#sendData({ data: JSON.stringify(frame), uuid });
  }

  /**
   * Sends a binary frame to an instance; `to` is one userId (or "host"), default as for `send`.
   * Held like `send` while the socket or the instance is away.
   * @param {string} uuid
   * @param {Uint8Array | ArrayBuffer} bytes
   * @param {{ to?: string }} [options]
   */
  sendBinary(uuid, bytes, options = {}) {
    this.#sendData({
      data: encodeBinaryFrame(BinaryKind.InstanceData, uuid, options.to ?? "", bytes),
      uuid,
    });
  }

  /**
   * Subscribes to a channel: its messages arrive as `message` events, binary ones as
   * `channel_binary` events. Rejects with the server's code (`already_subscribed`,
   * `invalid_channel`, `limit_reached`, `unauthorized`, …).
   * @param {string} channel
   * @returns {Promise<void>}
   */
  async subscribe(channel) {
    await this.request({ type: "subscribe", channel });
    this.channels.add(channel);
  }

  /**
   * Leaves a channel; rejects with `not_subscribed` when this socket was not subscribed.
   * @param {string} channel
   * @returns {Promise<void>}
   */
  async unsubscribe(channel) {
    this.channels.delete(channel);
    await this.request({ type: "unsubscribe", channel });
  }

  /**
   * Publishes any JSON value to a channel; resolves once the server accepted it.
   * @param {string} channel
   * @param {any} data
   * @returns {Promise<void>}
   */
  async publish(channel, data) {
    await this.request({ type: "publish", channel, data });
  }

  /**
   * Publishes bytes to a channel (binary kind 0x02); refusals arrive as `error` events.
   * @param {string} channel
   * @param {Uint8Array | ArrayBuffer} bytes
   */
  publishBinary(channel, bytes) {
    this.#sendData({ data: encodeBinaryFrame(BinaryKind.ChannelData, channel, "", bytes) });
  }

  /** Frames held now (while reconnecting or while an instance moves). */
  get queuedFrames() {
    return this.queue.length + this.notTaken.length;
  }

  /** @param {string | Uint8Array<ArrayBuffer>} data */
  #sendRaw(data) {
    if (!this.socket || this.socket.readyState !== 1) {
      throw new WSTunError("disconnected", "not connected");
    }
    this.socket.send(data);
    this.sentOnSocket++;
  }

  /** Sends a data frame now, or holds it until the socket and its instance are back. */
  #sendData(/** @type {Queued} */ frame) {
    if (this.#ready(frame.uuid) && !this.#holds(frame.uuid)) return this.#transmit(frame);
    if (this.closedByUser || !this.options.reconnect) {
      throw new WSTunError("disconnected", "not connected");
    }
    const size = sizeOf(frame.data);
    if (
      this.queue.length >= this.options.maxQueuedFrames ||
      this.queuedBytes + size > this.options.maxQueuedBytes
    ) {
      throw new WSTunError("queue_full", "too many frames held while reconnecting");
    }
    this.queue.push(frame);
    this.queuedBytes += size;
  }

  /** Whether frames for `uuid` (or a channel frame: no uuid) may go out now. */
  #ready(/** @type {string | undefined} */ uuid) {
    return this.connected && !this.serverDraining &&
      (uuid === undefined || !this.waiting.has(uuid));
  }

  /** Whether earlier frames for `uuid` are still held (a new one must wait behind them). */
  #holds(/** @type {string | undefined} */ uuid) {
    if (this.queue.length === 0 && this.notTaken.length === 0) return false;
    return this.queue.some((f) => f.uuid === uuid) || this.notTaken.some((f) => f.uuid === uuid);
  }

  /** Sends one data frame and remembers it until the server confirms it took it. */
  #transmit(/** @type {Queued} */ frame) {
    this.#sendRaw(frame.data);
    this.unconfirmed.push({ index: this.sentOnSocket, ...frame });
    // Bounded memory: the oldest ones are the likeliest to have been taken long ago.
    if (this.unconfirmed.length > 4 * this.options.maxQueuedFrames) this.unconfirmed.shift();
  }

  /** Sends held frames whose instance is ready, in order (per instance). */
  #flush() {
    /** @type {Queued[]} */
    const still = [];
    /** @type {Set<string | undefined>} */
    const blocked = new Set();
    for (const frame of [...this.notTaken, ...this.queue]) {
      if (blocked.has(frame.uuid) || !this.#ready(frame.uuid)) {
        blocked.add(frame.uuid); // later frames of this instance keep their place
        still.push(frame);
        continue;
      }
      try {
        this.#transmit(frame);
      } catch {
        still.push(frame);
        blocked.add(frame.uuid);
      }
    }
    this.notTaken = [];
    this.queue = still;
    this.queuedBytes = still.reduce((n, f) => n + sizeOf(f.data), 0);
  }

  /** Drops what is held for an instance this client is no longer part of. */
  #forget(/** @type {string} */ uuid) {
    this.waiting.delete(uuid);
    const before = this.queue.length;
    this.queue = this.queue.filter((f) => f.uuid !== uuid);
    this.notTaken = this.notTaken.filter((f) => f.uuid !== uuid);
    this.queuedBytes = this.queue.reduce((n, f) => n + sizeOf(f.data), 0);
    return before - this.queue.length;
  }

  /** Asks the server now and then how many frames it took, to let go of confirmed ones. */
  #startConfirming() {
    clearInterval(this.confirmTimer);
    const every = this.options.confirmEveryMs;
    if (!every) return;
    this.confirmTimer = setInterval(() => {
      if (this.connected && this.unconfirmed.length > 0) this.ping().catch(() => {});
    }, every);
  }

  /** The server took the first `received` frames of this socket. */
  #confirmed(/** @type {number} */ received) {
    let i = 0;
    while (i < this.unconfirmed.length && this.unconfirmed[i].index <= received) i++;
    this.unconfirmed.splice(0, i);
  }

  /**
   * @param {string} type
   * @param {any} frame
   */
  #emit(type, frame) {
    for (const handler of this.handlers.get(type) ?? []) handler(frame);
    if (type !== "*") { for (const handler of this.handlers.get("*") ?? []) handler(frame); }
  }

  /** @param {string | ArrayBuffer} data */
  #receive(data) {
    if (typeof data !== "string") {
      const frame = decodeBinaryFrame(data);
      if (frame?.kind === BinaryKind.ChannelData) {
        this.#emit("channel_binary", { channel: frame.id, from: frame.from, data: frame.data });
      } else if (frame) this.#emit("binary", { uuid: frame.id, ...frame });
      return;
    }
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "pong" && typeof frame.received === "number" && !("from" in frame)) {
      this.#confirmed(frame.received);
    }
    if (this.#settle(frame)) return;
    if (frame.type === "error" && frame.code === "moving" && this.waiting.has(frame.uuid)) {
      return; // a frame sent before the move was known: it goes again once the room is back
    }
    this.#track(frame);
    this.#emit(frame.type, frame);
  }

  /** Resolves the pending request a response answers; data frames (with `from`) never do. */
  #settle(/** @type {any} */ frame) {
    if (frame.ref === undefined || "from" in frame || !RESPONSE_TYPES.has(frame.type)) return false;
    const pending = this.pending.get(frame.ref);
    if (!pending) return false;
    this.pending.delete(frame.ref);
    clearTimeout(pending.timer);
    if (frame.type === "error") {
      pending.reject(new WSTunError(frame.code, frame.message, frame));
    } else if (frame.type === "ack" && frame.success === false) {
      pending.reject(new WSTunError(frame.error, frame.message, frame));
    } else {
      pending.resolve(frame);
    }
    return true;
  }

  /** Keeps what this client is part of in step with the server's frames. */
  #track(/** @type {any} */ frame) {
    if ("from" in frame) return; // application data, never a server frame
    switch (frame.type) {
      case "kicked":
        this.joined.delete(frame.uuid);
        this.#forget(frame.uuid);
        return;
      case "instance_closed":
        this.joined.delete(frame.uuid);
        this.hosted.delete(frame.uuid);
        this.#forget(frame.uuid);
        return;
      case "instance_moving":
        return this.#follow(frame.uuid, frame.received);
      case "draining":
        // The server took the first `received` frames of this socket; the rest go again.
        this.notTaken.push(...this.#notTakenAfter(frame.received));
        this.unconfirmed = [];
        this.serverDraining = true;
        // Close first, behind what this socket still sends: a server that closes a socket that
        // is still receiving cuts off its own last frames (docs/protocol.md).
        this.socket?.close(1000, "server draining");
        return;
    }
  }

  /**
   * @param {WebSocket} socket
   * @param {number} code
   * @param {string} reason
   */
  #closed(socket, code, reason) {
    if (socket !== this.socket) return;
    clearInterval(this.confirmTimer);
    for (const [ref, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new WSTunError("disconnected", "connection closed before the answer"));
      this.pending.delete(ref);
    }
    // Until each instance is back, its frames wait.
    for (const uuid of [...this.hosted.keys(), ...this.joined.keys()]) this.waiting.add(uuid);
    this.lastUnconfirmed = this.unconfirmed.length;
    this.#emit("close", { code, reason });
    if (this.closedByUser || !this.options.reconnect) return;
    let delay;
    if (RECONNECT_NOW.has(code) || this.serverDraining) {
      delay = Math.random() * 100; // the server asked: reconnect now, spread a little
      this.serverDraining = false;
      this.restartRetries = RESTART_RETRIES;
    } else if (this.restartRetries > 0) {
      delay = 250 + Math.random() * 250; // it is on its way back: no growing backoff yet
      this.restartRetries--;
    } else {
      const base = Math.min(
        this.options.maxBackoffMs,
        this.options.minBackoffMs * 2 ** this.attempt,
      );
      delay = base / 2 + Math.random() * base / 2;
      this.attempt++;
    }
    this.reconnectTimer = setTimeout(() => this.#reconnect(), delay);
  }

  async #reconnect() {
    try {
      await this.connect();
    } catch {
      return; // the close handler schedules the next attempt
    }
    // Frames of a socket that ended without `draining` may or may not have arrived.
    const unconfirmed = this.lastUnconfirmed;
    const results = [];
    for (const uuid of this.hosted.keys()) results.push(this.#comeBack(uuid));
    for (const uuid of this.joined.keys()) results.push(this.#comeBack(uuid));
    const channels = [...this.channels].map((channel) =>
      this.request({ type: "subscribe", channel }).then(
        () => ({ channel, ok: true }),
        (err) => (this.channels.delete(channel), { channel, ok: false, error: err }),
      )
    );
    const resent = this.notTaken.length;
    this.#flush();
    this.#emit("reconnect", {
      instances: await Promise.all(results),
      channels: await Promise.all(channels),
      resent,
      unconfirmed,
    });
  }

  /**
   * Takes out of `unconfirmed` the frames after the first `received` of this socket (of instance
   * `uuid` only, when given): the server did not take them.
   * @param {number} received
   * @param {string} [uuid]
   * @returns {Queued[]}
   */
  #notTakenAfter(received, uuid) {
    /** @type {Queued[]} */
    const out = [];
    this.unconfirmed = this.unconfirmed.filter((f) => {
      if (f.index <= received || (uuid !== undefined && f.uuid !== uuid)) return true;
      out.push({ data: f.data, uuid: f.uuid });
      return false;
    });
    return out;
  }

  /**
   * An instance moves to another isolate: resume it (its host) or rejoin it (a member). Its
   * frames the server did not take (after `received`, refused `moving`) go again once it is back.
   * @param {string} uuid
   * @param {number | undefined} received
   */
  #follow(uuid, received) {
    if (!this.hosted.has(uuid) && !this.joined.has(uuid)) return;
    if (typeof received === "number") this.notTaken.push(...this.#notTakenAfter(received, uuid));
    this.waiting.add(uuid);
    this.#comeBack(uuid).then((back) => this.#emit("moved", { type: "moved", ...back }));
  }

  /**
   * Gets back into an instance after a reconnect or a move (once at a time per instance).
   * @param {string} uuid
   * @returns {Promise<{ uuid: string, ok: boolean, error?: WSTunError }>}
   */
  #comeBack(uuid) {
    const already = this.returning.get(uuid);
    if (already) return already;
    const back = this.#return(uuid).finally(() => this.returning.delete(uuid));
    this.returning.set(uuid, back);
    return back;
  }

  /**
   * Resumes or rejoins `uuid`, trying again while the server says it is on its way
   * (`retryAfterMs`), then sends what was held for it.
   * @param {string} uuid
   * @returns {Promise<{ uuid: string, ok: boolean, error?: WSTunError }>}
   */
  async #return(uuid) {
    for (let attempt = 0;; attempt++) {
      const resume = this.hosted.get(uuid);
      const how = this.joined.get(uuid);
      if (resume === undefined && how === undefined) return { uuid, ok: false };
      try {
        if (resume !== undefined) await this.resumeInstance(uuid, resume);
        else {
          await this.#join({
            uuid,
            userId: how?.userId,
            token: how?.token,
            rejoin: true,
            resume: how?.resume,
          });
        }
        this.waiting.delete(uuid);
        this.#flush();
        return { uuid, ok: true };
      } catch (err) {
        const error = /** @type {WSTunError} */ (err);
        if (error.code === "disconnected" || this.closedByUser) return { uuid, ok: false, error };
        if (error.code === "already_member") {
          this.waiting.delete(uuid); // its earlier join got there after all
          this.#flush();
          return { uuid, ok: true };
        }
        if (!RETRY_CODES.has(error.code)) {
          this.hosted.delete(uuid);
          this.joined.delete(uuid);
          const dropped = this.#forget(uuid);
          this.#emit("instance_closed", {
            type: "instance_closed",
            uuid,
            reason: "host_left",
            dropped,
          });
          return { uuid, ok: false, error };
        }
        const hint = error.frame?.retryAfterMs;
        const backoff = Math.min(
          this.options.maxBackoffMs,
          this.options.minBackoffMs * 2 ** attempt,
        );
        await new Promise((r) => setTimeout(r, typeof hint === "number" ? hint : backoff));
      }
    }
  }
}

/**
 * @typedef {object} Queued a data frame held or sent: its bytes, and its instance (none for a
 *   channel frame)
 * @property {string | Uint8Array<ArrayBuffer>} data
 * @property {string} [uuid]
 */

/** @typedef {Queued & { index: number }} Sent a data frame sent, numbered on its socket */

/** @param {string | Uint8Array} data */
function sizeOf(data) {
  return typeof data === "string" ? data.length : data.byteLength;
}

/**
 * @param {string | undefined} url
 * @param {string | undefined} token
 */
function buildUrl(url, token) {
  let target = url;
  if (!target) {
    const loc = globalThis.location;
    if (!loc) throw new TypeError("options.url is required outside a browser page");
    target = `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/_ws`;
  }
  const parsed = new URL(target);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (!parsed.pathname || parsed.pathname === "/") parsed.pathname = "/_ws";
  if (token) parsed.searchParams.set("token", token);
  return parsed.toString();
}
