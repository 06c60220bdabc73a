/**
 * The bridge: how one isolate hands a message to another isolate of the same hub.
 *
 * Layout: every isolate listens on one inbox named for it, and a sender posts to the inbox of the
 * isolate that holds the recipient. So a message is delivered to exactly one isolate (traffic grows
 * with the work, not with the number of isolates), and an isolate holds one channel however many
 * instances it serves. docs/architecture.md ("Bridge and directory") compares this with a channel
 * per instance.
 *
 * Guarantees of an implementation: messages from one isolate to another arrive in the order
 * posted, or not at all (best effort: BroadcastChannel on Deno Deploy, Redis pub/sub while Redis is
 * away). Loss is detected one layer up by {@link LinkSequencer}, never here. `post` never throws
 * and never awaits.
 *
 * @module
 */

import type { ChannelMessage } from "../pubsub/channel_message.ts";

/** What travels between isolates; `conn` names a connection on the sending or receiving side. */
export type BridgeBody =
  /** A control request from a connection on the sender, to run on the owner of its instance. */
  | {
    k: "req";
    conn: string;
    frame: Record<string, unknown>;
    proof?: SecretProof;
    /** The sender verified the secret itself (a keyed create's key); the owner accepts it. */
    verified?: boolean;
  }
  /** Application data (text) from a connection on the sender, for an instance on the receiver. */
  | { k: "data"; conn: string; text: string }
  /** Application data (binary) from a connection on the sender. */
  | { k: "bin"; conn: string; bytes: Uint8Array<ArrayBuffer> }
  /** A frame for a connection on the receiver. */
  | { k: "out"; conn: string; text: string }
  /** A binary frame for a connection on the receiver. */
  | { k: "outbin"; conn: string; bytes: Uint8Array<ArrayBuffer> }
  /** A join the sender gave up waiting for: if it happened, undo it. */
  | { k: "undo"; conn: string; uuid: string }
  /** A connection on the sender closed: end its memberships and hostings on the receiver. */
  | { k: "detach"; conn: string }
  /** The sender is shutting down: treat it as dead now instead of at its heartbeat's expiry. */
  | { k: "bye" }
  /** A pub/sub publish, broadcast to every isolate (see {@link Bridge.broadcast}). */
  | { k: "chpub"; message: ChannelMessage }
  /** A tunnel relay message (lib/tunnel/bridged_registry.ts gives it meaning). */
  | { k: "tun"; m: Record<string, unknown> };

/** Proof that the client presented a secret, without the secret: HMAC-SHA256(secret, nonce). */
export interface SecretProof {
  nonce: string;
  mac: string | null;
}

/** One bridge message: sender isolate, per-link sequence number, body. */
export interface Envelope {
  from: string;
  seq: number;
  body: BridgeBody;
  /** Sent with {@link Bridge.broadcast}: numbered on the sender's broadcast link, not a direct one. */
  all?: true;
}

/** Carries envelopes between isolates. */
export interface Bridge {
  /** Starts delivering envelopes addressed to `isolate` to `receive`. */
  listen(isolate: string, receive: (envelope: Envelope) => void): void;
  /** Posts one envelope to the inbox of `isolate`; never throws. */
  post(isolate: string, envelope: Envelope): void;
  /**
   * Posts one envelope to every other isolate listening (pub/sub publishes, whose subscribers may
   * be anywhere); never throws. A transport that echoes it to the sender may: receivers ignore
   * their own broadcasts.
   */
  broadcast(envelope: Envelope): void;
  /** Drops whatever the bridge keeps for an isolate that is gone. */
  forget?(isolate: string): void;
  /** Stops listening and releases channels or connections. */
  close(): Promise<void>;
}
