// @ts-check
/**
 * transfer.js — point-to-point file transfers between two people in a fileshare room, through the
 * relay, in binary frames (protocol v1's routing header names the peer; see docs/services.md).
 *
 * Memory stays bounded for any file size:
 * - the owner reads the file one chunk at a time (`File.slice`) and keeps at most
 *   {@link WINDOW_BYTES} unacknowledged per transfer, and stops while its socket's
 *   `bufferedAmount` is above {@link SOCKET_HIGH_WATER}; so the server never holds more than a
 *   window per transfer for a receiver (and never hits its slow-consumer limit);
 * - the requester acknowledges each chunk, hashes it as it arrives and hands every
 *   {@link BLOB_BATCH_BYTES} to a Blob (which the browser may keep on disk), and runs at most
 *   {@link MAX_ACTIVE_DOWNLOADS} downloads at once (more wait in line).
 * Both ends hash with SHA-256 as the bytes pass; the requester compares the owner's digest with
 * its own before offering the file to save.
 *
 * @module
 */
import { Sha256 } from "./sha256.js";

export const CHUNK_BYTES = 256 * 1024;
export const WINDOW_BYTES = 8 * CHUNK_BYTES;
/** The owner reads its file in blocks this big (one read ahead): fewer, larger disk reads. */
export const READ_BYTES = 8 * CHUNK_BYTES;
export const SOCKET_HIGH_WATER = 4 * 1024 * 1024;
export const BLOB_BATCH_BYTES = 16 * 1024 * 1024;
export const MAX_ACTIVE_DOWNLOADS = 4;
/** How long the owner waits before looking at a full socket buffer again. */
const DRAIN_POLL_MS = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * @typedef {object} SharedFile what the room's file list says about a file
 * @property {string} owner userId of the member offering it ("host" for the host)
 * @property {string} id the owner's id for it
 * @property {string} name
 * @property {number} size
 * @property {string} type
 */

/**
 * @typedef {object} Transfer one upload or download, as the page shows it
 * @property {string} key
 * @property {"up" | "down"} direction
 * @property {string} peer the other side's userId
 * @property {string} name
 * @property {number} size
 * @property {string} type
 * @property {number} bytes moved so far (acknowledged, for an upload)
 * @property {"waiting" | "active" | "done" | "failed"} state
 * @property {string} message
 * @property {number} rate bytes per second, lately
 * @property {string} [sha256]
 * @property {string} [url] object URL of a verified download
 */

/** Bytes per second over the last few seconds. */
class Meter {
  constructor() {
    /** @type {[number, number][]} */
    this.samples = [];
  }

  /** @param {number} total bytes so far */
  sample(total) {
    const now = performance.now();
    this.samples.push([now, total]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    return now - t0 > 0 ? ((total - b0) * 1000) / (now - t0) : 0;
  }
}

/** Reads a file block by block, one block ahead, and hands out chunk-sized views of them. */
class BlockReader {
  /** @param {File} file */
  constructor(file) {
    this.file = file;
    /** @type {{ start: number, bytes: Uint8Array } | null} */
    this.block = null;
    /** @type {{ start: number, promise: Promise<{ start: number, bytes: Uint8Array }> } | null} */
    this.ahead = null;
  }

  /** @param {number} start */
  #read(start) {
    const end = Math.min(this.file.size, start + READ_BYTES);
    return this.file.slice(start, end).arrayBuffer().then((b) => ({
      start,
      bytes: new Uint8Array(b),
    }));
  }

  /**
   * The bytes [offset, offset + length) of the file; chunks never straddle blocks because
   * READ_BYTES is a multiple of CHUNK_BYTES.
   * @param {number} offset
   * @param {number} length
   */
  async chunk(offset, length) {
    const b = this.block;
    if (!b || offset < b.start || offset + length > b.start + b.bytes.length) {
      const ahead = this.ahead?.start === offset ? this.ahead.promise : this.#read(offset);
      const block = await ahead;
      this.block = block;
      const next = block.start + block.bytes.length;
      this.ahead = null;
      if (next < this.file.size) {
        const promise = this.#read(next);
        // A read-ahead of a cancelled upload is never awaited; its failure is reported when
        // (if) it is awaited, not as an unhandled rejection.
        promise.catch(() => {});
        this.ahead = { start: next, promise };
      }
    }
    const block = /** @type {{ start: number, bytes: Uint8Array }} */ (this.block);
    const start = offset - block.start;
    return block.bytes.subarray(start, start + length);
  }
}

/** A random id for one transfer, unique per requester. */
function newTransferId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Prefixes a chunk with its transfer id: `u8 idLen | id | bytes`.
 * @param {string} transferId
 * @param {Uint8Array} chunk
 */
function encodeChunk(transferId, chunk) {
  const id = encoder.encode(transferId);
  const out = new Uint8Array(1 + id.length + chunk.length);
  out[0] = id.length;
  out.set(id, 1);
  out.set(chunk, 1 + id.length);
  return out;
}

/** @param {Uint8Array} payload */
function decodeChunk(payload) {
  if (payload.length < 1 || payload.length < 1 + payload[0]) return null;
  const end = 1 + payload[0];
  return { transferId: decoder.decode(payload.subarray(1, end)), chunk: payload.subarray(end) };
}

/** Why transfers stopped when the socket closed. @param {number} code */
function closeReason(code) {
  if (code === 1009) {
    return `the server refuses frames of ${CHUNK_BYTES / 1024} KiB: raise WSTUN_MAX_FRAME_BYTES`;
  }
  return "the connection to the server was lost";
}

/** @param {Transfer} t */
function percent(t) {
  return t.size ? Math.floor((t.bytes / t.size) * 100) : 100;
}

/** Uploads and downloads of one participant in one room. */
export class TransferEngine {
  /**
   * @param {{ client: import("../../static/libwstun.js").WSTunClient, uuid: string, onChange: (t: Transfer) => void }} options
   */
  constructor({ client, uuid, onChange }) {
    this.client = client;
    this.uuid = uuid;
    this.onChange = onChange;
    /** Files this participant offers: id → File. @type {Map<string, File>} */
    this.offers = new Map();
    /** @type {Map<string, Transfer & { file: File, reader: BlockReader | null, transferId: string, sent: number, hash: Sha256, meter: Meter, pumping: boolean, ended: boolean }>} */
    this.uploads = new Map();
    /** @type {Map<string, Transfer & { owner: string, fileId: string, hash: Sha256, meter: Meter, pending: Uint8Array[], pendingBytes: number, blobs: Blob[] }>} */
    this.downloads = new Map();
    /** @type {(() => void)[]} */
    this.subscriptions = [
      client.on("file_request", (f) => this.#mine(f) && this.#onRequest(f)),
      client.on("file_accept", (f) => this.#mine(f) && this.#onAccept(f)),
      client.on("file_refuse", (f) => this.#mine(f) && this.#onRefuse(f)),
      client.on("file_ack", (f) => this.#mine(f) && this.#onAck(f)),
      client.on("file_done", (f) => this.#mine(f) && this.#onDone(f)),
      client.on("file_cancel", (f) => this.#mine(f) && this.#onCancel(f)),
      client.on("binary", (f) => f.uuid === this.uuid && this.#onChunk(f.from, f.data)),
      client.on("close", (e) => this.stopAll(closeReason(e.code))),
    ];
  }

  /** Stops listening to the client (the transfers' state stays readable). */
  dispose() {
    for (const unsubscribe of this.subscriptions) unsubscribe();
    this.subscriptions = [];
  }

  /** @param {any} f */
  #mine(f) {
    return f.uuid === this.uuid && typeof f.transfer === "string";
  }

  /**
   * @param {string} peer
   * @param {string} type
   * @param {Record<string, unknown>} fields
   */
  #send(peer, type, fields) {
    try {
      this.client.send(this.uuid, type, fields, { to: peer });
      return true;
    } catch {
      return false; // disconnected: the room's close handling fails the transfers
    }
  }

  /**
   * @param {Transfer} t
   * @param {string} message
   */
  #fail(t, message) {
    if (t.state === "done" || t.state === "failed") return;
    t.state = "failed";
    t.message = message;
    t.rate = 0;
    const any = /** @type {any} */ (t);
    any.ended = true;
    // A failed transfer lets go of what it holds: received chunks, or read-ahead blocks.
    any.pending = [];
    any.blobs = [];
    any.reader = null;
    this.onChange(t);
    if (t.direction === "down") this.#startWaiting();
  }

  // ——— downloads (this side requests) ———

  /** Asks the owner for a file; starts at once or waits for a free slot. @param {SharedFile} file */
  request(file) {
    const transferId = newTransferId();
    const t = {
      key: `down:${transferId}`,
      direction: /** @type {const} */ ("down"),
      peer: file.owner,
      owner: file.owner,
      fileId: file.id,
      name: file.name,
      size: file.size,
      type: file.type,
      bytes: 0,
      state: /** @type {Transfer["state"]} */ ("waiting"),
      message: "waiting for a free slot",
      rate: 0,
      hash: new Sha256(),
      meter: new Meter(),
      pending: /** @type {Uint8Array[]} */ ([]),
      pendingBytes: 0,
      blobs: /** @type {Blob[]} */ ([]),
    };
    this.downloads.set(transferId, t);
    this.onChange(t);
    this.#startWaiting();
    return t;
  }

  #startWaiting() {
    let active = 0;
    for (const t of this.downloads.values()) if (t.state === "active") active++;
    for (const [transferId, t] of this.downloads) {
      if (active >= MAX_ACTIVE_DOWNLOADS) return;
      if (t.state !== "waiting") continue;
      t.state = "active";
      t.message = "asking the owner…";
      active++;
      if (!this.#send(t.owner, "file_request", { transfer: transferId, file: t.fileId })) {
        this.#fail(t, "not connected to the server");
      }
      this.onChange(t);
    }
  }

  /** @param {any} f */
  #onAccept(f) {
    const t = this.downloads.get(f.transfer);
    if (!t || t.owner !== f.from || t.state !== "active") return;
    if (f.size !== t.size) return this.#cancelDownload(t, "the owner's file changed size");
    t.message = "";
    this.onChange(t);
  }

  /** @param {any} f */
  #onRefuse(f) {
    const t = this.downloads.get(f.transfer);
    if (!t || t.owner !== f.from) return;
    this.#fail(t, `refused: ${String(f.message ?? "no reason given")}`);
  }

  /**
   * @param {string} from
   * @param {Uint8Array} payload
   */
  #onChunk(from, payload) {
    const decoded = decodeChunk(payload);
    if (!decoded) return;
    const t = this.downloads.get(decoded.transferId);
    if (!t || t.owner !== from || t.state !== "active") return;
    const { chunk } = decoded;
    if (t.bytes + chunk.length > t.size) {
      return this.#cancelDownload(t, "the owner sent more bytes than the file has");
    }
    t.hash.update(chunk);
    t.pending.push(chunk);
    t.pendingBytes += chunk.length;
    t.bytes += chunk.length;
    if (t.pendingBytes >= BLOB_BATCH_BYTES) {
      // Hand the batch to a Blob so the page's heap never holds more than one batch.
      t.blobs.push(new Blob(/** @type {BlobPart[]} */ (t.pending)));
      t.pending = [];
      t.pendingBytes = 0;
    }
    this.#send(from, "file_ack", { transfer: decoded.transferId, received: t.bytes });
    t.rate = t.meter.sample(t.bytes);
    this.onChange(t);
  }

  /** @param {any} f */
  #onDone(f) {
    const t = this.downloads.get(f.transfer);
    if (!t || t.owner !== f.from || t.state !== "active") return;
    if (t.bytes !== t.size) {
      return this.#fail(t, `incomplete: got ${t.bytes} of ${t.size} bytes`);
    }
    const digest = t.hash.hex();
    if (digest !== f.sha256) {
      return this.#fail(t, "SHA-256 mismatch: the file was damaged on the way; not saved");
    }
    const blob = new Blob(/** @type {BlobPart[]} */ ([...t.blobs, ...t.pending]), {
      type: t.type || "application/octet-stream",
    });
    t.blobs = [];
    t.pending = [];
    t.sha256 = digest;
    t.url = URL.createObjectURL(blob);
    t.state = "done";
    t.rate = 0;
    t.message = "SHA-256 verified";
    this.onChange(t);
    this.#startWaiting();
  }

  /**
   * @param {Transfer & { owner: string }} t
   * @param {string} message
   */
  #cancelDownload(t, message) {
    const transferId = t.key.slice("down:".length);
    if (t.state === "active") this.#send(t.owner, "file_cancel", { transfer: transferId, message });
    this.#fail(t, message);
  }

  // ——— uploads (this side owns the file) ———

  /** @param {any} f */
  #onRequest(f) {
    const key = `up:${f.from}\n${f.transfer}`;
    if (this.uploads.has(key)) return;
    const file = typeof f.file === "string" ? this.offers.get(f.file) : undefined;
    if (!file) {
      this.#send(f.from, "file_refuse", { transfer: f.transfer, message: "no longer shared" });
      return;
    }
    const t = {
      key,
      direction: /** @type {const} */ ("up"),
      peer: f.from,
      name: file.name,
      size: file.size,
      type: file.type,
      bytes: 0,
      state: /** @type {Transfer["state"]} */ ("active"),
      message: "",
      rate: 0,
      file,
      reader: new BlockReader(file),
      transferId: f.transfer,
      sent: 0,
      hash: new Sha256(),
      meter: new Meter(),
      pumping: false,
      ended: false,
    };
    this.uploads.set(key, t);
    this.#send(f.from, "file_accept", {
      transfer: f.transfer,
      name: file.name,
      size: file.size,
      type: file.type,
    });
    this.onChange(t);
    this.#pump(t);
  }

  /** @param {any} f */
  #onAck(f) {
    const t = this.uploads.get(`up:${f.from}\n${f.transfer}`);
    if (!t || t.state !== "active" || typeof f.received !== "number") return;
    t.bytes = Math.min(f.received, t.sent);
    t.rate = t.meter.sample(t.bytes);
    if (t.bytes === t.size && t.sent === t.size) {
      t.state = "done";
      t.rate = 0;
      t.message = "sent";
      t.ended = true;
      t.reader = null;
    }
    this.onChange(t);
    this.#pump(t);
  }

  /**
   * Sends chunks while the window and the socket allow; called again by each ack.
   * @param {Transfer & { reader: BlockReader | null, transferId: string, sent: number, hash: Sha256, pumping: boolean, ended: boolean }} t
   */
  async #pump(t) {
    if (t.pumping) return;
    t.pumping = true;
    try {
      while (!t.ended && t.sent < t.size && t.sent - t.bytes < WINDOW_BYTES) {
        if (this.client.bufferedAmount > SOCKET_HIGH_WATER) {
          setTimeout(() => this.#pump(t), DRAIN_POLL_MS);
          return;
        }
        const end = Math.min(t.size, t.sent + CHUNK_BYTES);
        if (!t.reader) return;
        const chunk = await t.reader.chunk(t.sent, end - t.sent);
        if (t.ended) return;
        t.hash.update(chunk);
        this.client.sendBinary(this.uuid, encodeChunk(t.transferId, chunk), { to: t.peer });
        t.sent = end;
      }
      if (!t.ended && t.sent === t.size && !t.sha256) {
        t.sha256 = t.hash.hex();
        this.#send(t.peer, "file_done", { transfer: t.transferId, sha256: t.sha256 });
        if (t.size === 0) this.#onAck({ from: t.peer, transfer: t.transferId, received: 0 });
      }
    } catch (err) {
      this.#send(t.peer, "file_cancel", { transfer: t.transferId, message: "upload stopped" });
      this.#fail(t, `upload stopped: ${String(/** @type {any} */ (err)?.message ?? err)}`);
    } finally {
      t.pumping = false;
    }
  }

  // ——— both ———

  /** @param {any} f */
  #onCancel(f) {
    const why = `cancelled by ${f.from === "host" ? "the host" : f.from}: ${
      String(f.message ?? "")
    }`;
    const up = this.uploads.get(`up:${f.from}\n${f.transfer}`);
    if (up) this.#fail(up, why);
    const down = this.downloads.get(f.transfer);
    if (down && down.owner === f.from) this.#fail(down, why);
  }

  /** Cancels a transfer from this side. @param {Transfer} t */
  cancel(t) {
    if (t.state === "done" || t.state === "failed") return;
    if (t.direction === "down") {
      return this.#cancelDownload(/** @type {any} */ (t), "cancelled here");
    }
    const up = /** @type {any} */ (t);
    this.#send(up.peer, "file_cancel", { transfer: up.transferId, message: "cancelled" });
    this.#fail(up, "cancelled here");
  }

  /**
   * Someone left the room: every transfer with them stops, with a message saying so.
   * @param {string} userId
   * @param {string} why e.g. "left the room"
   */
  peerLeft(userId, why) {
    const who = userId === "host" ? "The host" : userId;
    for (const t of this.downloads.values()) {
      if (t.owner === userId) this.#fail(t, `${who} ${why}: download stopped at ${percent(t)} %`);
    }
    for (const t of this.uploads.values()) {
      if (t.peer === userId) this.#fail(t, `${who} ${why}: upload stopped at ${percent(t)} %`);
    }
  }

  /** The room is gone: every transfer stops. @param {string} why */
  stopAll(why) {
    for (const t of [...this.downloads.values(), ...this.uploads.values()]) this.#fail(t, why);
  }

  /** Forgets a finished transfer and frees its saved file. @param {Transfer} t */
  forget(t) {
    if (t.state !== "done" && t.state !== "failed") return;
    if (t.url) URL.revokeObjectURL(t.url);
    if (t.direction === "down") this.downloads.delete(t.key.slice("down:".length));
    else this.uploads.delete(t.key);
  }
}
