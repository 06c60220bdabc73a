/**
 * A benchmark peer: one lean WebSocket speaking WSTun's protocol v1 frames, either as they are
 * (WSTun, the Deno baseline, Node + ws) or inside Socket.IO's envelope (`42["m",<frame>]`), so every
 * scenario drives every server with the same JSON frames.
 *
 * Control replies during set-up are parsed with JSON.parse; measured frames are handed to the
 * scenario's `onData(text)` as they arrive, so the hot path parses only what the scenario needs.
 *
 * @module
 */
import { connectWebSocket } from "./ws_client.mjs";

const SOCKET_IO_PREFIX = '42["m",';

/** How frames travel to a server: its upgrade path and the envelope around each frame. */
export const Flavour = Object.freeze({
  wstun: { path: "/_ws", socketIo: false },
  wsify: { path: "/ws", socketIo: false },
  socketio: { path: "/socket.io/?EIO=4&transport=websocket", socketIo: true },
});

export class Peer {
  constructor(ws, flavour) {
    this.ws = ws;
    this.flavour = flavour;
    this.onData = () => {};
    this.onBinary = () => {};
    this.waiters = new Map();
    this.errors = 0;
    this.firstError = "";
    this.nextRef = 1;
    ws.onBinary = (buf) => this.onBinary(buf);
    ws.onText = flavour.socketIo
      ? (text) => this.receiveSocketIo(text)
      : (text) => this.receive(text);
  }

  /** Sends one protocol frame (a JSON text). */
  send(json) {
    this.ws.sendText(this.flavour.socketIo ? SOCKET_IO_PREFIX + json + "]" : json);
  }

  /** Sends several protocol frames in one write. */
  sendMany(jsons) {
    this.ws.sendTexts(this.flavour.socketIo ? jsons.map((j) => SOCKET_IO_PREFIX + j + "]") : jsons);
  }

  /** Sends a control request (a `ref` is added) and resolves with the reply carrying that `ref`. */
  request(frame, timeoutMs = 15000) {
    frame.ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(frame.ref);
        reject(new Error(`no reply to ${frame.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(frame.ref, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(JSON.stringify(frame));
    });
  }

  receive(text) {
    // Set-up replies carry a ref; data frames never do in these scenarios.
    if (this.waiters.size > 0 && text.includes('"ref"')) {
      const frame = JSON.parse(text);
      const waiter = this.waiters.get(frame.ref);
      if (waiter) {
        this.waiters.delete(frame.ref);
        waiter(frame);
        return;
      }
    }
    if (text.startsWith('{"type":"error"')) this.noteError(text);
    this.onData(text);
  }

  receiveSocketIo(text) {
    if (text.startsWith(SOCKET_IO_PREFIX)) {
      this.receive(text.slice(SOCKET_IO_PREFIX.length, -1));
      return;
    }
    // Engine.IO ping: answer it so long idle runs are not dropped.
    if (text === "2") this.ws.sendText("3");
  }

  noteError(text) {
    this.errors++;
    if (!this.firstError) this.firstError = text.slice(0, 200);
  }

  close() {
    this.ws.destroy();
  }
}

/** Connects one peer; for Socket.IO also joins the default namespace. */
export async function connectPeer({ host, port, flavour, timeoutMs = 15000 }) {
  if (!flavour.socketIo) {
    return new Peer(await connectWebSocket({ host, port, path: flavour.path, timeoutMs }), flavour);
  }
  let joined;
  const namespaceJoined = new Promise((resolve) => (joined = resolve));
  const ws = await connectWebSocket({
    host,
    port,
    path: flavour.path,
    timeoutMs,
    init: (client) => {
      client.onText = (text) => {
        if (text.startsWith("40")) joined();
        else if (text.startsWith("0")) client.sendText("40");
      };
    },
  });
  let timer;
  const timedOut = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("Socket.IO connect timed out")), timeoutMs);
  });
  try {
    await Promise.race([namespaceJoined, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  return new Peer(ws, flavour);
}

/** Creates an instance with `host` as its host; resolves with the instance uuid. */
export async function createInstance(host, name) {
  const reply = await host.request({
    type: "create_instance",
    service: "chat",
    name,
  });
  if (reply.type !== "instance_created") {
    throw new Error(`create_instance failed: ${JSON.stringify(reply)}`);
  }
  return reply.uuid;
}

/** Joins `member` to instance `uuid` as `userId`; rejects unless the ack says success. */
export async function joinInstance(member, uuid, userId) {
  const reply = await member.request({ type: "join_instance", uuid, userId });
  if (reply.type !== "ack" || reply.success !== true) {
    throw new Error(`join_instance failed: ${JSON.stringify(reply)}`);
  }
}
