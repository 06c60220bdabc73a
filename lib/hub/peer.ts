/**
 * The delivery seam between the hub's routing rules and wherever a socket lives.
 *
 * The hub only ever hands frames to a {@link Peer}. A local connection is one implementation; the
 * cluster adds another that forwards to the isolate holding the socket, without any routing rule
 * changing. Peers that can be reached together share a {@link PeerGroup} (the sockets of one
 * other isolate): a broadcast hands the group all of its peers at once, so it can send one
 * message for all of them. A peer must never throw from a send: a socket that cannot take a frame
 * closes itself with a reason, and its close is reported through `Hub.detach`.
 *
 * @module
 */
import type { ServerFrame } from "../protocol.ts";
import type { MemberHold } from "./rejoin_hold.ts";

/** Something that frames can be delivered to. */
export interface Peer {
  /** Delivers one JSON text frame. */
  sendText(text: string): void;
  /** Delivers one binary frame; the peer may keep the array, the sender never reuses it. */
  sendBinary(bytes: Uint8Array<ArrayBuffer>): void;
  /** Set when the peer is best reached together with others (see {@link PeerGroup}). */
  readonly group?: PeerGroup;
  /** Frames the server has taken from this socket so far (a local connection knows). */
  readonly received?: number;
}

/** Peers reached through one route; a broadcast to several of them is one delivery. */
export interface PeerGroup {
  /** Delivers one text frame to each of `peers` (all of this group). */
  sendText(peers: readonly Peer[], text: string): void;
  /** Delivers one binary frame to each of `peers` (all of this group). */
  sendBinary(peers: readonly Peer[], bytes: Uint8Array<ArrayBuffer>): void;
}

/** A member of an instance, with what routing needs precomputed once at join time. */
export interface Member {
  readonly userId: string;
  readonly session: Session;
  /** `,"from":"<userId>"}`: spliced onto a data frame instead of re-serialising it. */
  readonly fromSuffix: string;
  /** The binary header prefix of frames this member sends. */
  readonly binaryHeader: Uint8Array;
  /**
   * The verifier of the member's own secret, the `resume` of its last `ack`
   * (lib/hub/instance_secrets.ts, `memberVerifier`).
   */
  resumeVerifier: string;
  /**
   * While its socket moves to another isolate: what stands in for `session.peer` as a recipient
   * (frames wait there for its rejoin); null otherwise. Its own frames still come from `session`.
   */
  held: MemberHold | null;
}

/** The hub's view of one connected socket: what it hosts and what it has joined. */
export class Session {
  /** Instance uuids this session hosts; allocated on first create. */
  hosted: Set<string> | null = null;
  /** uuid → membership, allocated on first join. */
  joined: Map<string, Member> | null = null;
  /** Instances this socket was told move and has not come back into (lib/hub/moving.ts). */
  moving: Set<string> | null = null;

  constructor(readonly peer: Peer) {}

  /** Sends a server frame (serialised here, once). */
  send(frame: ServerFrame): void {
    this.peer.sendText(JSON.stringify(frame));
  }
}
