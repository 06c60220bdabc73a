/**
 * One service instance (a room): its identity, its host and its members.
 *
 * An instance holds the secrets that guard it (join token, resume secret) and never hands them
 * out: {@link Instance.info} is the only public view. Member bookkeeping lives here so the hub's
 * rules read as rules.
 *
 * @module
 */
import { BinaryKind, encodeBinaryHeader } from "../binary_frame.ts";
import { HOST_USER_ID, type InstanceInfo } from "../protocol.ts";
import type { Member, Session } from "./peer.ts";

/** Built once: every frame the host sends carries this `from`. */
export const HOST_FROM_SUFFIX = `,"from":${JSON.stringify(HOST_USER_ID)}}`;

export class Instance {
  /** Host session; null while the host is away (between its socket closing and the grace end). */
  host: Session | null;
  readonly members = new Map<string, Member>();
  /** Binary header prefix of the host's frames (kind, uuid, "host"). */
  readonly hostBinaryHeader: Uint8Array;
  graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly uuid: string,
    readonly name: string,
    readonly service: string,
    /** Join token; undefined = open instance. */
    readonly token: string | undefined,
    /** Secret that lets the host take the instance back after reconnecting. */
    readonly resume: string,
    readonly createdAt: number,
    host: Session,
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
      protected: this.token !== undefined,
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
    };
    this.members.set(userId, member);
    (session.joined ??= new Map()).set(this.uuid, member);
    return member;
  }

  /** Removes a member from the instance and from its session's bookkeeping. */
  removeMember(member: Member): void {
    this.members.delete(member.userId);
    member.session.joined?.delete(this.uuid);
  }

  /** Sends one server frame to the host, if it is here. */
  notifyHost(frame: object): void {
    this.host?.send(frame);
  }

  /** Sends one server frame to every member, serialised once. */
  notifyMembers(frame: object): void {
    const text = JSON.stringify(frame);
    for (const m of this.members.values()) m.session.peer.sendText(text);
  }
}
