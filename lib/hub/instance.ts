/**
 * One service instance (a room): its identity, its host and its members.
 *
 * An instance holds the verifiers of the secrets that guard it (join token, resume secret; see
 * lib/hub/instance_secrets.ts), never the secrets, and never hands them out: {@link Instance.info}
 * is the only public view. Member bookkeeping lives here so the hub's
 * rules read as rules, and so does the fan-out plan of a broadcast ({@link Instance.fanout}):
 * members' peers that are reached directly, and those reached together through a group (the
 * members on one other isolate), worked out once per change of membership, not per frame.
 *
 * @module
 */
import { BinaryKind, encodeBinaryHeader } from "../binary_frame.ts";
import { HOST_USER_ID, type InstanceInfo, type ServerFrame } from "../protocol.ts";
import type { Member, Peer, PeerGroup, Session } from "./peer.ts";
import type { MemberHold, RejoinHold } from "./rejoin_hold.ts";

/** How a broadcast reaches every member: peers one by one, and groups of peers at once. */
export interface Fanout {
  readonly direct: readonly Peer[];
  readonly groups: ReadonlyMap<PeerGroup, readonly Peer[]>;
}

/** Built once: every frame the host sends carries this `from`. */
export const HOST_FROM_SUFFIX = `,"from":${JSON.stringify(HOST_USER_ID)}}`;

export class Instance {
  /** Host session; null while the host is away (between its socket closing and the grace end). */
  host: Session | null;
  readonly members = new Map<string, Member>();
  /** Binary header prefix of the host's frames (kind, uuid, "host"). */
  readonly hostBinaryHeader: Uint8Array;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** After an adoption, while members are expected back: what was sent meanwhile. */
  rejoinHold: RejoinHold | null = null;
  rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  #fanout: Fanout | null = null;

  constructor(
    readonly uuid: string,
    readonly name: string,
    readonly service: string,
    /** Verifier of the join token; undefined = open instance. */
    readonly tokenVerifier: string | undefined,
    /** Verifier of the secret that lets the host take the instance back after reconnecting. */
    readonly resumeVerifier: string,
    readonly createdAt: number,
    host: Session,
    /** Created with a `key` (its uuid derived from the key). */
    readonly keyed = false,
  ) {
    this.host = host;
    this.hostBinaryHeader = encodeBinaryHeader(BinaryKind.InstanceData, uuid, HOST_USER_ID);
  }

  /** The public record: no token, no resume secret. */
  info(): InstanceInfo {
    return {
      uuid: this.uuid,
      name: this.name,
      service: this.service,
      protected: this.tokenVerifier !== undefined,
      members: this.members.size,
      createdAt: new Date(this.createdAt).toISOString(),
    };
  }

  /** Adds a member; the caller has checked the userId is free. */
  addMember(userId: string, session: Session): Member {
    const member: Member = {
      userId,
      session,
      fromSuffix: `,"from":${JSON.stringify(userId)}}`,
      binaryHeader: encodeBinaryHeader(BinaryKind.InstanceData, this.uuid, userId),
      resumeVerifier: "", // set as its `ack` is sent
      held: null,
    };
    this.members.set(userId, member);
    (session.joined ??= new Map()).set(this.uuid, member);
    this.#fanout = null;
    return member;
  }

  /** Removes a member from the instance and from its session's bookkeeping (ends its hold). */
  removeMember(member: Member): void {
    this.#release(member);
    this.members.delete(member.userId);
    member.session.joined?.delete(this.uuid);
    this.#fanout = null;
  }

  /** Removes every member (the instance ends); their sessions forget it. */
  clearMembers(): void {
    for (const member of this.members.values()) {
      this.#release(member);
      member.session.joined?.delete(this.uuid);
    }
    this.members.clear();
    this.#fanout = null;
  }

  /**
   * Frames for `member` wait in `hold` from now (its socket moves to another isolate); the
   * fan-out plan sends them there.
   */
  holdMember(member: Member, hold: MemberHold): void {
    member.held = hold;
    this.#fanout = null;
  }

  /** Stops every member's hold (the instance ends here, or the server stops). */
  releaseHolds(): void {
    for (const member of this.members.values()) this.#release(member);
  }

  #release(member: Member): void {
    if (!member.held) return;
    clearTimeout(member.held.timer);
    member.held = null;
    this.#fanout = null;
  }

  /** The members' peers as a broadcast reaches them, rebuilt after membership changes. */
  fanout(): Fanout {
    if (this.#fanout) return this.#fanout;
    const direct: Peer[] = [];
    const groups = new Map<PeerGroup, Peer[]>();
    for (const m of this.members.values()) {
      const peer: Peer = m.held ?? m.session.peer;
      const group = peer.group;
      if (!group) direct.push(peer);
      else if (groups.has(group)) groups.get(group)!.push(peer);
      else groups.set(group, [peer]);
    }
    return this.#fanout = { direct, groups };
  }

  /** Sends one text frame to every member: one send per direct peer, one per group. */
  broadcastText(text: string): number {
    const { direct, groups } = this.fanout();
    for (let i = 0; i < direct.length; i++) direct[i].sendText(text);
    for (const [group, peers] of groups) group.sendText(peers, text);
    return this.members.size;
  }

  /** Sends one binary frame to every member, like {@link broadcastText}. */
  broadcastBinary(bytes: Uint8Array<ArrayBuffer>): number {
    const { direct, groups } = this.fanout();
    for (let i = 0; i < direct.length; i++) direct[i].sendBinary(bytes);
    for (const [group, peers] of groups) group.sendBinary(peers, bytes);
    return this.members.size;
  }

  /** Stops holding frames for returning members (all are back, the time is up, it ended). */
  endRejoinHold(): void {
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    this.rejoinHold = null;
  }

  /** Sends one server frame to the host, if it is here. */
  notifyHost(frame: ServerFrame): void {
    this.host?.send(frame);
  }

  /** Sends one server frame to every member, serialised once. */
  notifyMembers(frame: ServerFrame): void {
    this.broadcastText(JSON.stringify(frame));
  }
}
