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
 */

/** A WSTun connection with request/response by `ref`, events and reconnection. */
export class WSTunClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    this.options = {
      reconnect: true,
      requestTimeoutMs: 10_000,
      minBackoffMs: 250,
      maxBackoffMs: 10_000,
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
    /** Instances this client joined: uuid → how it joined. @type {Map<string, { userId: string, token?: string }>} */
    this.joined = new Map();
    /** Channels this client subscribed to, renewed after a reconnect. @type {Set<string>} */
    this.channels = new Set();
    this.nextRef = 1;
    this.attempt = 0;
    this.closedByUser = false;
    /** @type {any} */
    this.reconnectTimer = undefined;
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

  /** Closes for good: no reconnection. */
  close() {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
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
   * "binary", "open", "close", "reconnect", or "*" for every frame). Returns an unsubscribe.
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
    const ack = await this.request({ type: "join_instance", uuid, userId, token });
    this.joined.set(uuid, { userId: ack.userId, token });
    return ack;
  }

  /** @param {string} uuid */
  async leaveInstance(uuid) {
    this.joined.delete(uuid);
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
   * the host); `to` names one member or several instead.
   * @param {string} uuid
   * @param {string} type
   * @param {Record<string, any>} [data]
   * @param {{ to?: string | string[] }} [options]
   */
  send(uuid, type, data = {}, options = {}) {
    /** @type {Record<string, any>} */
    const frame = { ...data, type, uuid };
    if (options.to !== undefined) frame.to = options.to;
    this.#sendRaw(JSON.stringify(frame));
  }

  /**
   * Sends a binary frame to an instance; `to` is one userId (or "host"), default as for `send`.
   * @param {string} uuid
   * @param {Uint8Array | ArrayBuffer} bytes
   * @param {{ to?: string }} [options]
   */
  sendBinary(uuid, bytes, options = {}) {
    this.#sendRaw(encodeBinaryFrame(BinaryKind.InstanceData, uuid, options.to ?? "", bytes));
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
    this.#sendRaw(encodeBinaryFrame(BinaryKind.ChannelData, channel, "", bytes));
  }

  /** @param {string | Uint8Array<ArrayBuffer>} data */
  #sendRaw(data) {
    if (!this.socket || this.socket.readyState !== 1) {
      throw new WSTunError("disconnected", "not connected");
    }
    this.socket.send(data);
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
    if (this.#settle(frame)) return;
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

  /** Forgets instances the server ended, so a reconnect does not try to return to them. */
  #track(/** @type {any} */ frame) {
    if (frame.type === "kicked") this.joined.delete(frame.uuid);
    if (frame.type === "instance_closed") {
      this.joined.delete(frame.uuid);
      this.hosted.delete(frame.uuid);
    }
  }

  /**
   * @param {WebSocket} socket
   * @param {number} code
   * @param {string} reason
   */
  #closed(socket, code, reason) {
    if (socket !== this.socket) return;
    for (const [ref, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new WSTunError("disconnected", "connection closed before the answer"));
      this.pending.delete(ref);
    }
    this.#emit("close", { code, reason });
    if (this.closedByUser || !this.options.reconnect) return;
    const base = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * base / 2;
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.#reconnect(), delay);
  }

  async #reconnect() {
    try {
      await this.connect();
    } catch {
      return; // the close handler schedules the next attempt
    }
    const results = [];
    for (const [uuid, resume] of this.hosted) {
      results.push(
        this.resumeInstance(uuid, resume).then(
          () => ({ uuid, ok: true }),
          (err) => (this.hosted.delete(uuid), { uuid, ok: false, error: err }),
        ),
      );
    }
    for (const [uuid, how] of this.joined) {
      results.push(
        this.joinInstance({ uuid, userId: how.userId, token: how.token }).then(
          () => ({ uuid, ok: true }),
          (err) => (this.joined.delete(uuid), { uuid, ok: false, error: err }),
        ),
      );
    }
    const channels = [...this.channels].map((channel) =>
      this.request({ type: "subscribe", channel }).then(
        () => ({ channel, ok: true }),
        (err) => (this.channels.delete(channel), { channel, ok: false, error: err }),
      )
    );
    this.#emit("reconnect", {
      instances: await Promise.all(results),
      channels: await Promise.all(channels),
    });
  }
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
