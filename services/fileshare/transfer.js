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
 * Both ends hash with SHA-256; the requester compares the owner's digest with its own before
 * offering the file to save.
 *
 * A transfer survives a server restart (a drain or a crash) and a room moving to another isolate:
 * each chunk carries its offset; the requester keeps only the chunk that starts where its bytes
 * end, drops one it has (sent again), and on a gap — or once back in the room, or when the host
 * is back — asks the owner to go on from there (`file_resume`). The owner hashes a chunk only once
 * it is acknowledged and keeps the unacknowledged ones (at most a window) to send them again, so
 * its digest covers exactly the bytes the requester has. A peer the server says is not in the room
 * is waited for ({@link PEER_WAIT_MS}); the transfer fails with a message when the host says the
 * peer left, the room ends, or the peer does not come back.
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
/** How long it waits while libwstun holds frames (the room is not back yet after a reconnect). */
const HELD_POLL_MS = 100;
/**
 * The version of the frames below, in `file_request` and `file_accept`: a page loaded before the
 * server was upgraded (it survives the restart) may speak another one; it is then told to reload.
 */
export const TRANSFER_VERSION = 2;
/**
 * How long a transfer waits for a peer the server says is not in the room (it may be on its way
 * back after a restart). Longer than the host's wait for its members (RETURN_WAIT_MS in
 * static/member_list.js), so that a peer who really left is normally reported by the host first.
 */
export const PEER_WAIT_MS = 45_000;
/** How often a download waiting for its owner asks it again. */
const RESUME_RETRY_MS = 1000;

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
 * Frames a chunk: `u8 idLen | transfer id (ASCII) | u64 offset (big-endian) | bytes`. The offset
 * says where the bytes belong in the file, so a requester recognises a chunk it already has (sent
 * again after a resume) and a gap (chunks lost in a crash).
 * @param {string} transferId
 * @param {number} offset a safe integer
 * @param {Uint8Array} chunk
 */
export function encodeChunk(transferId, offset, chunk) {
  const id = encoder.encode(transferId);
  const out = new Uint8Array(1 + id.length + 8 + chunk.length);
  out[0] = id.length;
  out.set(id, 1);
  const view = new DataView(out.buffer, 1 + id.length, 8);
  view.setUint32(0, Math.floor(offset / 2 ** 32));
  view.setUint32(4, offset % 2 ** 32);
  out.set(chunk, 1 + id.length + 8);
  return out;
}

/**
 * Reads a chunk framed by {@link encodeChunk}; null when it is too short to be one.
 * @param {Uint8Array} payload
 * @returns {{ transferId: string, offset: number, chunk: Uint8Array } | null}
 */
export function decodeChunk(payload) {
  if (payload.length < 1) return null;
  const idEnd = 1 + payload[0];
  if (payload.length < idEnd + 8) return null;
  const view = new DataView(payload.buffer, payload.byteOffset + idEnd, 8);
  return {
    transferId: decoder.decode(payload.subarray(1, idEnd)),
    offset: view.getUint32(0) * 2 ** 32 + view.getUint32(4),
    chunk: payload.subarray(idEnd + 8),
  };
}

/** @param {Transfer} t */
function percent(t) {
  return t.size ? Math.floor((t.bytes / t.size) * 100) : 100;
}

/** How a peer is named in a message. @param {string} userId */
function peerName(userId) {
  return userId === "host" ? "the host" : userId;
}

/**
 * @typedef {Transfer & {
 *   owner: string, fileId: string, hash: Sha256, meter: Meter, pending: Uint8Array[],
 *   pendingBytes: number, blobs: Blob[], askedFrom: number, missingSince: number,
 *   timer: ReturnType<typeof setTimeout> | undefined,
 * }} Download a download: `bytes` arrived in order (hashed, kept); `askedFrom` is the offset of
 *   the last `file_resume`; `missingSince` when the server first said the owner is not in the room
 */

/**
 * @typedef {Transfer & {
 *   file: File, reader: BlockReader | null, transferId: string, sent: number, readEnd: number,
 *   unacked: { offset: number, bytes: Uint8Array }[], hash: Sha256, meter: Meter,
 *   pumping: boolean, ended: boolean, missingSince: number,
 *   timer: ReturnType<typeof setTimeout> | undefined,
 * }} Upload an upload: `bytes` is what the requester acknowledged (hashed); `sent` the offset of
 *   the next chunk to send (set back by a resume); `readEnd` how far the file was read; the
 *   chunks from `bytes` to `readEnd` wait in `unacked` (at most a window)
 */

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
    /** @type {Map<string, Upload>} */
    this.uploads = new Map();
    /** @type {Map<string, Download>} */
    this.downloads = new Map();
    const here = (/** @type {any} */ f) => f.uuid === this.uuid;
    /** @type {(() => void)[]} */
    this.subscriptions = [
      client.on("file_request", (f) => this.#mine(f) && this.#onRequest(f)),
      client.on("file_accept", (f) => this.#mine(f) && this.#onAccept(f)),
      client.on("file_refuse", (f) => this.#mine(f) && this.#onRefuse(f)),
      client.on("file_ack", (f) => this.#mine(f) && this.#onAck(f)),
      client.on("file_resume", (f) => this.#mine(f) && this.#onResume(f)),
      client.on("file_done", (f) => this.#mine(f) && this.#onDone(f)),
      client.on("file_cancel", (f) => this.#mine(f) && this.#onCancel(f)),
      client.on("binary", (f) => here(f) && this.#onChunk(f.from, f.data)),
      client.on("error", (f) => here(f) && this.#onRefused(f)),
      client.on("close", (e) => this.#connectionLost(e.code)),
      client.on("reconnect", (f) => {
        const back = f.instances.some((/** @type {any} */ i) => here(i) && i.ok);
        if (back) this.#backInRoom(f.unconfirmed > 0);
      }),
      // The room moves to another isolate: frames to peers on the old one may be lost.
      client.on("instance_moving", (f) => here(f) && this.#resumeDownloads(() => true)),
      // Frames to the host while it was away were refused: go on from where they stopped.
      client.on("host_back", (f) => here(f) && this.#resumeDownloads((t) => t.owner === "host")),
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
      return false; // closed for good, or too much held while reconnecting
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
    clearTimeout(any.timer);
    // A failed transfer lets go of what it holds: received chunks, or read blocks.
    any.pending = [];
    any.blobs = [];
    any.reader = null;
    any.unacked = [];
    this.onChange(t);
    if (t.direction === "down") this.#startWaiting();
  }

  // ——— the connection, and peers away ———

  /**
   * The socket closed. Transfers wait for libwstun to reconnect and rejoin the room, except
   * after a 1009: the server refuses our chunks, so trying again cannot help.
   * @param {number} code
   */
  #connectionLost(code) {
    if (code === 1009) {
      const limit = `the server refuses frames of ${CHUNK_BYTES / 1024} KiB`;
      return this.stopAll(`${limit}: raise WSTUN_MAX_FRAME_BYTES`);
    }
    for (const t of [...this.downloads.values(), ...this.uploads.values()]) {
      if (t.state !== "active") continue;
      t.message = "reconnecting…";
      t.rate = 0;
      this.onChange(t);
    }
  }

  /**
   * Back in the room after a reconnect. Downloads tell their owners where they are (chunks sent
   * to this page while it was away are lost); uploads go on, from the last acknowledged chunk
   * when the old socket died without saying what it took (`crashed`). Whether a peer is missing
   * is found out again: what the server said before the reconnect is stale.
   * @param {boolean} crashed
   */
  #backInRoom(crashed) {
    for (const t of this.uploads.values()) {
      if (t.state !== "active") continue;
      this.#peerBack(t);
      t.message = "";
      if (crashed) t.sent = t.bytes;
      this.onChange(t);
      this.#pump(t);
    }
    for (const t of this.downloads.values()) if (t.state === "active") this.#peerBack(t);
    this.#resumeDownloads(() => true);
  }

  /** @param {(t: Download) => boolean} which */
  #resumeDownloads(which) {
    for (const t of this.downloads.values()) {
      if (t.state !== "active" || !which(t)) continue;
      if (!t.missingSince) t.message = "";
      this.onChange(t);
      this.#askResume(t);
    }
  }

  /**
   * The server refused a frame to a peer not in the room (`not_member`, naming it) or to a host
   * that is away (`host_away`). The peer may have left for good — then the host's `member_left`
   * or the room's end stops the transfers — or be on its way back after a restart. So its
   * transfers wait for it, up to {@link PEER_WAIT_MS}: a download asks its owner again every
   * {@link RESUME_RETRY_MS}; an upload goes on until its window is full, then waits to be asked.
   * @param {any} f
   */
  #onRefused(f) {
    if (f.code === "host_away") return this.#peerMissing("host");
    if (f.code !== "not_member" || !Array.isArray(f.to)) return;
    for (const userId of f.to) this.#peerMissing(String(userId));
  }

  /** @param {string} userId */
  #peerMissing(userId) {
    const now = Date.now();
    for (const t of this.downloads.values()) {
      if (!this.#waitForPeer(t, userId, now)) continue;
      // The refused frame may have been our last `file_resume`: a gap must ask again.
      t.askedFrom = -1;
      if (now - t.missingSince > PEER_WAIT_MS) {
        this.#gaveUp(t);
        continue;
      }
      t.timer ??= setTimeout(() => {
        t.timer = undefined;
        if (t.state === "active") this.#askResume(t);
      }, RESUME_RETRY_MS);
    }
    for (const t of this.uploads.values()) {
      if (this.#waitForPeer(t, userId, now)) {
        t.timer ??= setTimeout(() => this.#gaveUp(t), PEER_WAIT_MS);
      }
    }
  }

  /**
   * Marks a running transfer with `userId` as waiting for it; false for any other transfer.
   * @param {Download | Upload} t
   * @param {string} userId
   * @param {number} now
   */
  #waitForPeer(t, userId, now) {
    if (t.state !== "active" || t.peer !== userId) return false;
    if (!t.missingSince) {
      t.missingSince = now;
      t.rate = 0;
      t.message = `waiting for ${peerName(userId)} to come back…`;
      this.onChange(t);
    }
    return true;
  }

  /** @param {Download | Upload} t */
  #gaveUp(t) {
    if (!t.missingSince) return;
    const who = peerName(t.peer);
    const what = t.direction === "down" ? "download" : "upload";
    const message = `${who[0].toUpperCase()}${who.slice(1)} did not come back: ${what} stopped`;
    this.#fail(t, `${message} at ${percent(t)} %`);
  }

  /** The peer answered: what waited for it goes on. @param {Download | Upload} t */
  #peerBack(t) {
    if (!t.missingSince) return;
    t.missingSince = 0;
    clearTimeout(t.timer);
    t.timer = undefined;
    t.message = "";
  }

  // ——— downloads (this side requests) ———

  /** Asks the owner for a file; starts at once or waits for a free slot. @param {SharedFile} file */
  request(file) {
    const transferId = newTransferId();
    /** @type {Download} */
    const t = {
      key: `down:${transferId}`,
      direction: "down",
      peer: file.owner,
      owner: file.owner,
      fileId: file.id,
      name: file.name,
      size: file.size,
      type: file.type,
      bytes: 0,
      state: "waiting",
      message: "waiting for a free slot",
      rate: 0,
      hash: new Sha256(),
      meter: new Meter(),
      pending: [],
      pendingBytes: 0,
      blobs: [],
      askedFrom: -1,
      missingSince: 0,
      timer: undefined,
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
      const asked = this.#send(t.owner, "file_request", {
        transfer: transferId,
        file: t.fileId,
        version: TRANSFER_VERSION,
      });
      if (!asked) this.#fail(t, "not connected to the server");
      this.onChange(t);
    }
  }

  /** @param {any} f */
  #onAccept(f) {
    const t = this.downloads.get(f.transfer);
    if (!t || t.owner !== f.from || t.state !== "active") return;
    this.#peerBack(t);
    if (f.version !== TRANSFER_VERSION) {
      const who = peerName(t.owner);
      return this.#cancelDownload(t, `${who}'s page is out of date: ask them to reload it`);
    }
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
   * A chunk is taken when it starts where the bytes so far end. One that starts before was sent
   * again after a resume: dropped, and acknowledged again (the owner may be going back because
   * earlier acknowledgements were lost in a crash; without one it would wait for them with a full
   * window). One that starts after means chunks were lost: the owner is asked, once for that
   * point, to go on from where the bytes end.
   * @param {string} from
   * @param {Uint8Array} payload
   */
  #onChunk(from, payload) {
    const decoded = decodeChunk(payload);
    if (!decoded) return;
    const t = this.downloads.get(decoded.transferId);
    if (!t || t.owner !== from || t.state !== "active") return;
    this.#peerBack(t);
    const { offset, chunk } = decoded;
    if (offset < t.bytes) {
      this.#send(from, "file_ack", { transfer: decoded.transferId, received: t.bytes });
      return;
    }
    if (offset > t.bytes) {
      if (t.askedFrom !== t.bytes) this.#askResume(t);
      return;
    }
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

  /** Asks the owner to go on from the bytes that arrived. @param {Download} t */
  #askResume(t) {
    t.askedFrom = t.bytes;
    this.#send(t.owner, "file_resume", {
      transfer: t.key.slice("down:".length),
      file: t.fileId,
      offset: t.bytes,
      version: TRANSFER_VERSION,
    });
  }

  /** @param {any} f */
  #onDone(f) {
    const t = this.downloads.get(f.transfer);
    if (!t || t.owner !== f.from || t.state !== "active") return;
    this.#peerBack(t);
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
   * @param {Download} t
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
    if (f.version !== TRANSFER_VERSION) {
      const message = "your page is out of date: reload it to download";
      this.#send(f.from, "file_refuse", { transfer: f.transfer, message });
      return;
    }
    const file = typeof f.file === "string" ? this.offers.get(f.file) : undefined;
    if (!file) {
      this.#send(f.from, "file_refuse", { transfer: f.transfer, message: "no longer shared" });
      return;
    }
    /** @type {Upload} */
    const t = {
      key,
      direction: "up",
      peer: f.from,
      name: file.name,
      size: file.size,
      type: file.type,
      bytes: 0,
      state: "active",
      message: "",
      rate: 0,
      file,
      reader: new BlockReader(file),
      transferId: f.transfer,
      sent: 0,
      readEnd: 0,
      unacked: [],
      hash: new Sha256(),
      meter: new Meter(),
      pumping: false,
      ended: false,
      missingSince: 0,
      timer: undefined,
    };
    this.uploads.set(key, t);
    this.#send(f.from, "file_accept", {
      transfer: f.transfer,
      name: file.name,
      size: file.size,
      type: file.type,
      version: TRANSFER_VERSION,
    });
    this.onChange(t);
    this.#pump(t);
  }

  /** @param {any} f */
  #onAck(f) {
    const t = this.uploads.get(`up:${f.from}\n${f.transfer}`);
    if (!t || t.state !== "active" || !Number.isSafeInteger(f.received)) return;
    this.#peerBack(t);
    this.#acknowledged(t, f.received);
    t.rate = t.meter.sample(t.bytes);
    this.onChange(t);
    this.#pump(t);
  }

  /**
   * The requester has the first `received` bytes: hash the chunks that covers and let them go,
   * so the digest is always that of exactly the confirmed bytes, whatever is sent again later.
   * @param {Upload} t
   * @param {number} received
   */
  #acknowledged(t, received) {
    while (t.unacked.length > 0) {
      const first = t.unacked[0];
      const end = first.offset + first.bytes.length;
      if (end > received) break;
      t.hash.update(first.bytes);
      t.bytes = end;
      t.unacked.shift();
    }
    // A late acknowledgement after going back: no need to send what is confirmed.
    if (t.sent < t.bytes) t.sent = t.bytes;
  }

  /**
   * The requester asks to go on from `offset`, what it has (after a reconnect, a gap, or when
   * its request may have been lost): that much is confirmed, and sending goes on from there.
   * @param {any} f
   */
  #onResume(f) {
    const t = this.uploads.get(`up:${f.from}\n${f.transfer}`);
    const offset = f.offset;
    if (!Number.isSafeInteger(offset) || offset < 0) return;
    const stop = (/** @type {string} */ message) =>
      this.#send(f.from, "file_cancel", { transfer: f.transfer, message });
    if (!t) {
      // Its request never arrived (lost in a crash): it is one now.
      if (offset === 0) return this.#onRequest(f);
      return stop("this transfer is no longer running on the owner's page");
    }
    if (t.state === "failed") return stop(t.message);
    if (t.state === "done") {
      // The end was confirmed but `file_done` did not arrive: say it again.
      if (offset === t.size) {
        this.#send(t.peer, "file_done", { transfer: t.transferId, sha256: t.sha256 });
      }
      return;
    }
    this.#peerBack(t);
    this.#acknowledged(t, offset);
    if (t.bytes !== offset || offset > t.readEnd) {
      const message = `cannot go on from byte ${offset}`;
      stop(message);
      return this.#fail(t, message);
    }
    t.sent = offset;
    this.onChange(t);
    this.#pump(t);
  }

  /**
   * Sends chunks while the window, the socket and libwstun allow; called again by each ack, a
   * resume, and the room coming back. It finishes the upload once every byte is acknowledged.
   * @param {Upload} t
   */
  async #pump(t) {
    if (t.pumping) return;
    t.pumping = true;
    try {
      // A requester said to be away is not a reason to stop: what it does not get stays within
      // the window (no acknowledgement opens it), and a resume sends it again.
      while (!t.ended && t.sent < t.size && t.sent - t.bytes < WINDOW_BYTES) {
        if (!this.client.connected) return; // back in the room, #backInRoom pumps again
        if (this.client.bufferedAmount > SOCKET_HIGH_WATER) {
          setTimeout(() => this.#pump(t), DRAIN_POLL_MS);
          return;
        }
        // Frames are held while the room is not back yet: add none to them (libwstun's queue
        // is bounded, and they would only wait).
        if (this.client.queuedFrames > 0) {
          setTimeout(() => this.#pump(t), HELD_POLL_MS);
          return;
        }
        const offset = t.sent;
        const chunk = await this.#chunkAt(t, offset);
        if (t.sent !== offset) continue; // sent back by a resume meanwhile
        if (t.ended) return;
        this.client.sendBinary(this.uuid, encodeChunk(t.transferId, offset, chunk), { to: t.peer });
        t.sent = offset + chunk.length;
      }
      if (!t.ended && t.bytes === t.size) this.#finishUpload(t);
    } catch (err) {
      this.#send(t.peer, "file_cancel", { transfer: t.transferId, message: "upload stopped" });
      this.#fail(t, `upload stopped: ${String(/** @type {any} */ (err)?.message ?? err)}`);
    } finally {
      t.pumping = false;
    }
  }

  /**
   * The chunk at `offset`: kept from before when it is sent again, read from the file (and kept
   * until acknowledged) when it is new.
   * @param {Upload} t
   * @param {number} offset
   */
  async #chunkAt(t, offset) {
    const kept = t.unacked.find((c) => c.offset === offset);
    if (kept) return kept.bytes;
    if (!t.reader) throw new Error("the file is closed");
    const bytes = await t.reader.chunk(offset, Math.min(t.size, offset + CHUNK_BYTES) - offset);
    if (offset === t.readEnd) {
      t.unacked.push({ offset, bytes });
      t.readEnd = offset + bytes.length;
    }
    return bytes;
  }

  /** Every byte is acknowledged: the digest of them all goes to the requester. @param {Upload} t */
  #finishUpload(t) {
    t.sha256 = t.hash.hex();
    this.#send(t.peer, "file_done", { transfer: t.transferId, sha256: t.sha256 });
    t.state = "done";
    t.rate = 0;
    t.message = "sent";
    t.ended = true;
    t.reader = null;
    t.unacked = [];
    this.onChange(t);
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
      return this.#cancelDownload(/** @type {Download} */ (t), "cancelled here");
    }
    const up = /** @type {Upload} */ (t);
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
