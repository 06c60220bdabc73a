/**
 * The hot path: application data between a host and its members.
 *
 * A text frame is parsed once (by the connection) and forwarded as the original text with the
 * sender's `from` spliced onto its end, so no frame is re-serialised unless the sender put a
 * `from` of its own in it or repeated its `type` or `uuid` key. A binary frame is copied once behind the sender's precomputed header.
 * Nothing here awaits and nothing calls back into the hub: routing is handed the instances and
 * the relay counters ({@link RoutingScope}). A refused frame raises a {@link WstunError} that the
 * hub answers.
 *
 * @module
 */
import { type BinaryFrame, BinaryKind, withHeader } from "../binary_frame.ts";
import { ErrorCode, HOST_USER_ID } from "../protocol.ts";
import { WstunError } from "../errors/wstun_error.ts";
import type { Stats } from "../stats.ts";
import { HOST_FROM_SUFFIX, type Instance } from "./instance.ts";
import type { Member, Peer, Session } from "./peer.ts";

/** What an invalid `to` is told. */
export const TARGET_MESSAGE = "to: must be a userId or an array of userIds";

/** Whether `to` is a userId or an array of them. */
export function isTarget(to: unknown): to is string | string[] {
  return typeof to === "string" ||
    (Array.isArray(to) && to.every((name) => typeof name === "string"));
}

/**
 * The frame's text as it may be forwarded with a `from` spliced on: the original, unless the
 * sender put a `from` of its own in it or repeated `type` or `uuid` (then re-serialised, without
 * `from`, one of each).
 */
export function withoutFrom(text: string, msg: Record<string, unknown>): string {
  return "from" in msg || repeatsIdentity(text)
    ? JSON.stringify({ ...msg, from: undefined })
    : text;
}

/** What routing is handed by the hub, once: the instances on this isolate and what it counts. */
export interface RoutingScope {
  readonly instances: ReadonlyMap<string, Instance>;
  /** Delivered data: one frame to ten members counts ten. */
  readonly relayed: Pick<Stats, "messagesRelayed" | "bytesRelayed">;
}

/** The instance `uuid` among `instances`, or a `WstunError` `unknown_instance`. */
export function instanceIn(instances: ReadonlyMap<string, Instance>, uuid: string): Instance {
  const instance = instances.get(uuid);
  if (!instance) throw new WstunError(ErrorCode.UnknownInstance, `no instance ${uuid}`, { uuid });
  return instance;
}

/** Counts one routed frame: `recipients` deliveries of `size` bytes. */
function countDelivered(scope: RoutingScope, recipients: number, size: number): void {
  scope.relayed.messagesRelayed += recipients;
  scope.relayed.bytesRelayed += recipients * size;
}

/** Routes one application-data text frame; see docs/protocol.md, "Application data". */
export function routeData(
  scope: RoutingScope,
  session: Session,
  text: string,
  msg: Record<string, unknown>,
): void {
  const uuid = msg.uuid;
  if (typeof uuid !== "string") {
    throw new WstunError(ErrorCode.InvalidMessage, "uuid: application data needs an instance uuid");
  }
  routeCleanData(scope, session, uuid, withoutFrom(text, msg), msg.to);
}

/** Routes a data frame whose text is free of `from` (see {@link withoutFrom}). */
export function routeCleanData(
  scope: RoutingScope,
  session: Session,
  uuid: string,
  text: string,
  to: unknown,
): void {
  const instance = instanceIn(scope.instances, uuid);
  const fromHost = instance.host === session;
  const member = fromHost ? undefined : senderMember(session, uuid);
  const out = text.slice(0, text.lastIndexOf("}")) + (member?.fromSuffix ?? HOST_FROM_SUFFIX);

  if (to === undefined) {
    if (!fromHost) return countDelivered(scope, sendToHost(instance, out), out.length);
    instance.rejoinHold?.hold(out);
    return countDelivered(scope, instance.broadcastText(out), out.length);
  }
  const targets = resolveTargets(instance, to);
  for (const peer of targets.peers) peer.sendText(out);
  countDelivered(scope, targets.peers.length, out.length);
  reportUndelivered(uuid, targets);
}

/** Routes one binary frame (kind 0x01, header decoded); the header's peer field is the target. */
export function routeBinary(
  scope: RoutingScope,
  session: Session,
  bytes: Uint8Array<ArrayBuffer>,
  frame: BinaryFrame | string,
): void {
  if (typeof frame === "string") throw new WstunError(ErrorCode.InvalidMessage, frame);
  if (frame.kind !== BinaryKind.InstanceData) {
    throw new WstunError(ErrorCode.InvalidMessage, `binary kind ${frame.kind} is not supported`);
  }
  const instance = instanceIn(scope.instances, frame.id);
  const fromHost = instance.host === session;
  const header = fromHost
    ? instance.hostBinaryHeader
    : senderMember(session, frame.id).binaryHeader;
  // A new frame, not the received one with its header overwritten: Deno sends a buffer made here
  // for about half the CPU of one it received (docs/performance.md, "binary").
  const out = withHeader(header, bytes, frame.payloadOffset);

  if (frame.peer === "") {
    if (!fromHost) return countDelivered(scope, sendBinaryToHost(instance, out), out.length);
    instance.rejoinHold?.hold(out);
    return countDelivered(scope, instance.broadcastBinary(out), out.length);
  }
  const targets = resolveTargets(instance, frame.peer);
  for (const peer of targets.peers) peer.sendBinary(out);
  countDelivered(scope, targets.peers.length, out.length);
  reportUndelivered(frame.id, targets);
}

/**
 * Whether `"type"` or `"uuid"` may occur twice in the text. JSON.parse keeps the last of duplicate
 * keys, other parsers the first, so such a frame is forwarded re-serialised (one of each, the ones
 * routing used) rather than as sent. A key can also be spelt with `\u` escapes (`"typ\u0065"`),
 * which no text search sees, so a frame with any `\u` escape is re-serialised too (JSON.stringify
 * writes them only for control characters). A nested key of the same name only costs the
 * re-serialising.
 */
function repeatsIdentity(text: string): boolean {
  if (text.includes("\\u")) return true;
  const type = text.indexOf('"type"');
  if (type >= 0 && text.indexOf('"type"', type + 6) >= 0) return true;
  const uuid = text.indexOf('"uuid"');
  return uuid >= 0 && text.indexOf('"uuid"', uuid + 6) >= 0;
}

function senderMember(session: Session, uuid: string): Member {
  const member = session.joined?.get(uuid);
  if (!member) {
    throw new WstunError(ErrorCode.NotMember, `not the host or a member of ${uuid}`, { uuid });
  }
  return member;
}

function awayError(uuid: string): WstunError {
  return new WstunError(ErrorCode.HostAway, "the host is away; nothing was delivered to it", {
    uuid,
  });
}

function sendToHost(instance: Instance, text: string): number {
  if (!instance.host) throw awayError(instance.uuid);
  instance.host.peer.sendText(text);
  return 1;
}

function sendBinaryToHost(instance: Instance, bytes: Uint8Array<ArrayBuffer>): number {
  if (!instance.host) throw awayError(instance.uuid);
  instance.host.peer.sendBinary(bytes);
  return 1;
}

interface Targets {
  peers: Peer[];
  /** Names in `to` that are not members. */
  missing: string[];
  /** `to` named the host while it is away. */
  hostAway: boolean;
}

/** Resolves `to` (a userId, "host", or an array of them) to peers, collecting unknown names. */
function resolveTargets(instance: Instance, to: unknown): Targets {
  if (!isTarget(to)) throw new WstunError(ErrorCode.InvalidMessage, TARGET_MESSAGE);
  const names = typeof to === "string" ? [to] : to;
  const peers: Peer[] = [];
  const missing: string[] = [];
  let hostAway = false;
  // Each name counts once: a `to` repeating a member must not multiply the deliveries.
  for (const name of names.length > 1 ? new Set(names) : names) {
    if (name === HOST_USER_ID) {
      if (instance.host) peers.push(instance.host.peer);
      else hostAway = true;
      continue;
    }
    const member = instance.members.get(name);
    if (member) peers.push(member.held ?? member.session.peer);
    else missing.push(name);
  }
  return { peers, missing, hostAway };
}

/** After the valid targets got the frame: refuse the share that could not be delivered. */
function reportUndelivered(uuid: string, { missing, hostAway }: Targets): void {
  if (hostAway && missing.length === 0) throw awayError(uuid);
  if (missing.length === 0) return;
  throw new WstunError(ErrorCode.NotMember, `not members of ${uuid}: ${missing.join(", ")}`, {
    uuid,
    to: missing,
  });
}
