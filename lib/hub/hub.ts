/**
 * The hub: instances, membership and the rules of who may do what to whom.
 *
 * It receives already-parsed requests from connections (lib/connection.ts) and answers through
 * {@link Session}s, whose peers are the only way frames leave it. It knows nothing about HTTP or
 * sockets, and keeps all state in the object, so one process can run many hubs.
 *
 * Guarantees: every request gets exactly one direct answer when it asks for one (a response, an
 * `ok` when it carries a `ref`, or an `error`); a failed join is answered by its `ack` alone; frames
 * from one sender reach each recipient in the order sent; instance tokens and resume secrets are
 * never sent to anyone but the creating host.
 *
 * @module
 */
import { ulid } from "ulid";
import { BinaryKind, decodeBinaryHeader } from "../binary_frame.ts";
import {
  CloseReason,
  type ControlRequest,
  type CreateInstance,
  ErrorCode,
  HOST_USER_ID,
  type InstanceInfo,
  type InstanceRequest,
  type JoinInstance,
  type KickClient,
  LeaveReason,
  type ListInstances,
  type Ref,
  type ResumeInstance,
  RETRY_AFTER_MS,
  type ServerFrame,
  type ServerFrameOf,
} from "../protocol.ts";
import { randomSecret, secretEquals } from "../secret.ts";
import type { ServiceCatalog } from "../service_catalog.ts";
import type { Stats } from "../stats.ts";
import type { Logger } from "../log.ts";
import { asWstunError, errorFrame, failedAck, WstunError } from "../errors/mod.ts";
import type { InstanceRecord } from "../bridge/directory.ts";
import type { ClusterPort, Forwarding, Reply, Role, SecretCheck } from "./cluster_port.ts";
import { Instance } from "./instance.ts";
import type { InstanceSecrets } from "./instance_secrets.ts";
import { MemberHold, RejoinHold, type Replay } from "./rejoin_hold.ts";
import { type Member, type Peer, Session } from "./peer.ts";
import { cameBack, movingRefusal, tellMoving } from "./moving.ts";
import {
  instanceIn,
  isTarget,
  routeBinary,
  routeCleanData,
  routeData,
  type RoutingScope,
  TARGET_MESSAGE,
  withoutFrom,
} from "./routing.ts";

/** Requests by which a socket told an instance moves deals with it again (lib/hub/moving.ts). */
const COMES_BACK: ReadonlySet<string> = new Set([
  "join_instance",
  "resume_instance",
  "leave_instance",
  "close_instance",
]);

/** The configuration the hub's rules read (lib/config.ts's `Config` has them all). */
export interface HubRules {
  /** `WSTUN_TOKEN`: the server token a `create_instance` must carry, if set. */
  token?: string;
  /** `WSTUN_HOST_GRACE_MS`: how long an instance waits for its host to come back. */
  hostGraceMs: number;
  maxInstancesPerConnection: number;
  maxMembersPerInstance: number;
  maxJoinsPerConnection: number;
  /**
   * `WSTUN_REJOIN_HOLD_MS`: after an adoption, how long frames wait for members not back; for a
   * member whose isolate drains, how long its place and frames wait for its rejoin.
   */
  rejoinHoldMs: number;
  /** `WSTUN_REJOIN_HOLD_BYTES`: the most bytes held so for one instance (or held member). */
  rejoinHoldBytes: number;
}

/** What the hub needs from its surroundings; tests pass real ones and swap only the clock. */
export interface HubDeps {
  config: HubRules;
  catalog: ServiceCatalog;
  stats: Stats;
  /** Derives keyed instances' uuids under the server secret. */
  instanceSecrets: InstanceSecrets;
  now?: () => number;
  /** Where a fault (an exception that is not a `WstunError`) is logged: `hub.internal_error`. */
  log?: Logger;
}

/**
 * A join that succeeded: the member it made; `held`, what was kept for a member whose place was
 * held; `replaced`, when it took the place of a connection that still counted.
 */
interface Joined {
  instance: Instance;
  member: Member;
  held?: Replay;
  replaced?: true;
}

/** What a request is answered with, when it is answered with more than `ok`. */
type Response =
  | ServerFrameOf<"instance_created" | "instance_list" | "instance_resumed" | "pong">
  | undefined;

export class Hub {
  readonly instances = new Map<string, Instance>();
  readonly #deps: HubDeps;
  readonly #now: () => number;
  /** What routing is handed (the same objects for the hub's life: nothing made per frame). */
  readonly #routing: RoutingScope;
  #cluster: ClusterPort | null = null;
  /** Set by {@link drain}: sockets are closing because the server is, not because they left. */
  #draining = false;

  constructor(deps: HubDeps) {
    this.#deps = deps;
    this.#routing = { instances: this.instances, relayed: deps.stats };
    this.#now = deps.now ?? Date.now;
  }

  /** Connects this hub to other isolates; requests for instances not here go through it. */
  joinCluster(cluster: ClusterPort): void {
    this.#cluster = cluster;
  }

  /** Registers a newly connected socket. */
  attach(peer: Peer): Session {
    return new Session(peer);
  }

  /** Handles one validated control request and sends its direct answer. */
  control(session: Session, req: ControlRequest): void {
    if (session.moving !== null && COMES_BACK.has(req.type)) {
      cameBack(session, (req as { uuid: string }).uuid);
    }
    const cluster = this.#cluster;
    if (cluster) {
      if ("uuid" in req && !this.instances.has(req.uuid)) {
        return this.#forward(cluster, session, req);
      }
      if (req.type === "list_instances") return this.#answerList(cluster, session, req);
      if (req.type === "create_instance" && req.key !== undefined) {
        // A keyed instance may be live on another isolate: the key takes it over there.
        const uuid = this.#deps.instanceSecrets.idFor(req.service, req.key);
        if (!this.instances.has(uuid)) return this.#createKeyed(cluster, session, req, uuid);
      }
    }
    this.controlHere(session, req);
  }

  /**
   * Handles a request on this isolate only (also the owner side of a forwarded request): `check`,
   * when given, verifies the join token or resume secret from a proof instead of the request;
   * `reply` takes the direct answer (by default the session's socket).
   */
  controlHere(session: Session, req: ControlRequest, forwarding: Forwarding = {}): void {
    const { check, reply = (frame) => session.send(frame) } = forwarding;
    if (req.type === "join_instance") return this.#answerJoin(session, req, forwarding, reply);
    let response: Response | Promise<Response>;
    try {
      response = this.#dispatch(session, req, check);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      return reply(this.#errorFrame(err, req.ref));
    }
    if (response instanceof Promise) {
      response.then((r) => this.#answer(reply, req.ref, r), (err) => {
        reply(this.#errorFrame(this.#asWstunError(err), req.ref));
      });
      return;
    }
    this.#answer(reply, req.ref, response);
  }

  /** A request for an instance elsewhere: checked here as far as it can be, then forwarded. */
  #forward(cluster: ClusterPort, session: Session, req: InstanceRequest): void {
    try {
      this.#checkServerToken("server_token" in req ? req.server_token : undefined);
      if (req.type === "join_instance") this.checkJoinLimit(session);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      if (req.type === "join_instance") return this.#failedAck((f) => session.send(f), req, err);
      return this.sendError(
        session,
        new WstunError(err.code, err.message, { uuid: req.uuid }),
        req.ref,
      );
    }
    cluster.forward(session, req);
  }

  #createKeyed(cluster: ClusterPort, session: Session, req: CreateInstance, uuid: string): void {
    try {
      this.checkCreate(session, req);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      return this.sendError(session, new WstunError(err.code, err.message, { uuid }), req.ref);
    }
    cluster.createKeyed(session, req, uuid, () => {
      this.controlHere(session, req);
      return this.instances.has(uuid);
    });
  }

  #answer(reply: Reply, ref: Ref, response: Response): void {
    if (response) reply(ref === undefined ? response : { ...response, ref });
    else if (ref !== undefined) reply({ type: "ok", ref });
  }

  #answerList(cluster: ClusterPort, session: Session, req: ListInstances): void {
    const reply: Reply = (frame) => session.send(frame);
    cluster.list(req.service).then(
      (instances) => this.#answer(reply, req.ref, { type: "instance_list", instances }),
      (err) => this.sendError(session, this.#asWstunError(err), req.ref),
    );
  }

  /** Raises `unauthorized` when a presented server token does not match. */
  checkServerToken(presented: string | undefined): void {
    this.#checkServerToken(presented);
  }

  /**
   * Raises `limit_reached` when `session` already holds `WSTUN_MAX_JOINS` memberships, counting
   * those on other isolates and joins on their way there.
   */
  checkJoinLimit(session: Session): void {
    const max = this.#deps.config.maxJoinsPerConnection;
    if (!max) return;
    const joins = (session.joined?.size ?? 0) + (this.#cluster?.counts(session).joined ?? 0);
    if (joins >= max) {
      throw new WstunError(ErrorCode.LimitReached, `at most ${max} joins per connection`);
    }
  }

  /** Routes one application-data text frame (`msg` is `text` parsed); `ok` answers a `ref`. */
  data(session: Session, text: string, msg: Record<string, unknown>, ref: Ref): void {
    // In a cluster, a frame for an instance owned elsewhere goes straight to it, its text made
    // free of `from` here so the owner need not parse it again.
    const cluster = this.#cluster;
    const uuid = msg.uuid;
    if (cluster !== null && typeof uuid === "string" && !this.instances.has(uuid)) {
      if (msg.to !== undefined && !isTarget(msg.to)) {
        return this.sendError(
          session,
          new WstunError(ErrorCode.InvalidMessage, TARGET_MESSAGE),
          ref,
        );
      }
      const moving = movingRefusal(session, uuid);
      if (moving) return this.sendError(session, moving, ref);
      return cluster.forwardData(session, uuid, withoutFrom(text, msg), msg.to, ref);
    }
    try {
      routeData(this.#routing, session, text, msg);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      return this.sendError(session, this.#whileMoving(session, err), ref);
    }
    if (ref !== undefined) session.send({ type: "ok", ref });
  }

  /** Routes a data frame for an instance here whose text is free of `from` (cluster port). */
  dataHere(session: Session, uuid: string, text: string, to: unknown, ref: Ref): void {
    try {
      routeCleanData(this.#routing, session, uuid, text, to);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      return this.sendError(session, err, ref);
    }
    if (ref !== undefined) session.send({ type: "ok", ref });
  }

  /** Routes one binary instance-data frame; one for an instance elsewhere goes to its owner. */
  binary(session: Session, bytes: Uint8Array<ArrayBuffer>): void {
    const frame = decodeBinaryHeader(bytes);
    const cluster = this.#cluster;
    if (
      cluster !== null && typeof frame !== "string" && frame.kind === BinaryKind.InstanceData &&
      !this.instances.has(frame.id)
    ) {
      const moving = movingRefusal(session, frame.id);
      if (moving) return this.sendError(session, moving);
      return cluster.forwardBinary(session, frame.id, bytes);
    }
    this.binaryHere(session, bytes, frame);
  }

  /** Routes one binary frame for an instance here (cluster port; `binary` after its look-up). */
  binaryHere(
    session: Session,
    bytes: Uint8Array<ArrayBuffer>,
    frame = decodeBinaryHeader(bytes),
  ): void {
    try {
      routeBinary(this.#routing, session, bytes, frame);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      this.sendError(session, this.#whileMoving(session, err));
    }
  }

  /**
   * A refusal of a socket's frame: `moving` instead of `not_member` when the socket was told its
   * instance moves and has not come back (its instance arrived here before it did).
   */
  #whileMoving(session: Session, err: WstunError): WstunError {
    const uuid = err.details?.uuid;
    if (err.code !== ErrorCode.NotMember || uuid === undefined) return err;
    return movingRefusal(session, uuid) ?? err;
  }

  /** Tells a socket here that instance `uuid` moves (cluster port; lib/hub/moving.ts). */
  moving(session: Session, uuid: string): void {
    tellMoving(session, uuid);
  }

  /** Sends an `error` frame for a refused request. */
  sendError(session: Session, err: WstunError, ref?: Ref): void {
    session.send(this.#errorFrame(err, ref));
  }

  /** The `error` frame of a refusal, counted. */
  #errorFrame(err: WstunError, ref: Ref): ServerFrame {
    const frame = errorFrame(err, ref);
    this.#deps.stats.refused(frame.code);
    return frame;
  }

  /** A failure of an awaited request: a fault that is not a `WstunError` is `internal`, logged. */
  #asWstunError(err: unknown): WstunError {
    return asWstunError(err, (fault) => {
      this.#deps.log?.error("hub.internal_error", { error: String(fault) });
    });
  }

  /** Counts a refusal with `code` sent on the hub's behalf (by the cluster). */
  countRefusal(code: string): void {
    this.#deps.stats.refused(code);
  }

  /**
   * The server is draining: its instances move to other isolates (or to the restarted server),
   * so from now on a closing socket ends nothing here — no notifications, no grace timers.
   */
  drain(): void {
    this.#draining = true;
    for (const instance of this.instances.values()) clearTimeout(instance.graceTimer);
  }

  /**
   * Takes over an instance whose owner drained or died, as its record says (cluster port): the
   * same uuid, name, service and secrets (their verifiers), `session` its host, no members yet:
   * the `returning` it had rejoin, and what is sent to them meanwhile waits for them
   * (lib/hub/rejoin_hold.ts). Answers the host's resume.
   */
  adoptHere(session: Session, record: InstanceRecord, returning: number, ref: Ref): void {
    const instance = new Instance(
      record.uuid,
      record.name,
      record.service,
      record.tokenVerifier,
      record.resumeVerifier!,
      Date.parse(record.createdAt),
      session,
      record.keyed,
    );
    this.instances.set(instance.uuid, instance);
    this.#holdForReturning(instance, returning);
    (session.hosted ??= new Set()).add(instance.uuid);
    this.#membership(session, instance.uuid, "host");
    session.send({ type: "instance_resumed", uuid: instance.uuid, members: [], ref });
  }

  /** An adopted instance expects `members` back: what is sent to them meanwhile waits. */
  #holdForReturning(instance: Instance, members: number): void {
    const { rejoinHoldMs, rejoinHoldBytes } = this.#deps.config;
    if (members <= 0 || rejoinHoldMs <= 0 || rejoinHoldBytes <= 0) return;
    instance.rejoinHold = new RejoinHold(members, rejoinHoldBytes);
    instance.rejoinTimer = setTimeout(() => instance.endRejoinHold(), rejoinHoldMs);
  }

  /** A member rejoined after a move: what was held for it, then a word on what it missed. */
  #replay(instance: Instance, userId: string): void {
    const hold = instance.rejoinHold;
    const member = instance.members.get(userId);
    if (!hold || !member) return;
    const replay = hold.rejoin();
    if (!hold.open) instance.endRejoinHold();
    this.#sendReplay(member.session, instance.uuid, replay);
  }

  /** What was held for a member, in order, then a word on what it missed. */
  #sendReplay(session: Session, uuid: string, { frames, missed }: Replay): void {
    const peer = session.peer;
    for (const frame of frames) {
      typeof frame === "string" ? peer.sendText(frame) : peer.sendBinary(frame);
    }
    if (missed === 0) return;
    const message = `${missed} frame(s) sent while you were away were more than the server holds`;
    const err = new WstunError(ErrorCode.MissedFrames, message, { uuid, lost: missed });
    session.send(errorFrame(err));
  }

  /**
   * The socket of `session` (on another isolate, which drains) moves to another isolate: its
   * memberships here are held for its rejoin (cluster port). What is sent to it meanwhile waits
   * (`WSTUN_REJOIN_HOLD_BYTES`), its close does not end them, and its rejoin (`rejoin`, same
   * userId, from any isolate) takes its place back; after `WSTUN_REJOIN_HOLD_MS` without one it
   * is gone as after any close.
   */
  hold(session: Session): void {
    const { rejoinHoldMs, rejoinHoldBytes } = this.#deps.config;
    if (!session.joined || rejoinHoldMs <= 0 || rejoinHoldBytes <= 0) return;
    for (const [uuid, member] of session.joined) {
      const instance = this.instances.get(uuid);
      if (!instance || member.held) continue;
      const hold = new MemberHold(rejoinHoldBytes);
      hold.timer = setTimeout(() => this.#holdOver(instance, member), rejoinHoldMs);
      instance.holdMember(member, hold);
    }
  }

  /** A held member did not come back in time: it leaves, as after a close. */
  #holdOver(instance: Instance, member: Member): void {
    const hold = member.held;
    if (!hold || instance.members.get(member.userId) !== member) return;
    instance.removeMember(member);
    if (!hold.detached) this.#membership(member.session, instance.uuid, "none");
    instance.notifyHost({
      type: "client_disconnected",
      uuid: instance.uuid,
      userId: member.userId,
      reason: LeaveReason.Disconnected,
    });
    this.#cluster?.changed(instance);
  }

  /**
   * A local instance was adopted elsewhere (this isolate was cut off and its owner record taken
   * over): host and members are told to follow it, and it ends here without touching the record.
   */
  movedAway(uuid: string): void {
    const instance = this.instances.get(uuid);
    if (!instance) return;
    clearTimeout(instance.graceTimer);
    instance.endRejoinHold();
    this.instances.delete(uuid);
    const host = instance.host;
    if (host) {
      host.hosted?.delete(uuid);
      this.#movingAway(host, uuid);
    }
    for (const member of instance.members.values()) this.#movingAway(member.session, uuid);
    instance.clearMembers();
  }

  /**
   * Tells a session of an instance that moved away that it moves: a socket here at once; one on
   * another isolate through that isolate (`moving`), which knows what its socket sent.
   */
  #movingAway(session: Session, uuid: string): void {
    if (this.#cluster?.isRemote(session)) return this.#membership(session, uuid, "moving");
    this.#membership(session, uuid, "none");
    tellMoving(session, uuid);
  }

  /** A socket closed: its memberships end now, its instances wait for the host's grace. */
  detach(session: Session): void {
    if (this.#draining) return this.#cluster?.detached(session);
    if (session.joined) {
      for (const [uuid, member] of [...session.joined]) {
        const instance = this.instances.get(uuid);
        if (!instance) continue;
        if (member.held) {
          // Its place waits for its rejoin; the hold's end says it is gone if it does not come.
          member.held.detached = true;
          continue;
        }
        instance.removeMember(member);
        instance.notifyHost({
          type: "client_disconnected",
          uuid,
          userId: member.userId,
          reason: LeaveReason.Disconnected,
        });
        this.#cluster?.changed(instance);
      }
    }
    if (session.hosted) {
      for (const uuid of [...session.hosted]) {
        const instance = this.instances.get(uuid);
        if (instance) this.#hostLeft(instance);
      }
    }
    this.#cluster?.detached(session);
  }

  /** Public records of live instances, optionally of one service. */
  list(service?: string): InstanceInfo[] {
    const out: InstanceInfo[] = [];
    for (const instance of this.instances.values()) {
      if (service === undefined || instance.service === service) out.push(instance.info());
    }
    return out;
  }

  /** Public records of every isolate's instances (this isolate's alone when it has no peers). */
  listEverywhere(service?: string): Promise<InstanceInfo[]> {
    return this.#cluster ? this.#cluster.list(service) : Promise.resolve(this.list(service));
  }

  /** Ends an instance: members are told why, the host's bookkeeping forgets it. */
  closeInstance(instance: Instance, reason: CloseReason): void {
    clearTimeout(instance.graceTimer);
    instance.endRejoinHold();
    this.instances.delete(instance.uuid);
    const host = instance.host;
    if (host) {
      host.hosted?.delete(instance.uuid);
      this.#membership(host, instance.uuid, "none");
    }
    for (const member of instance.members.values()) {
      this.#membership(member.session, instance.uuid, "none");
    }
    instance.notifyMembers({ type: "instance_closed", uuid: instance.uuid, reason });
    instance.clearMembers();
    this.#cluster?.removed(instance.uuid);
  }

  /** Tells the cluster a session's part in an instance changed (remote sockets' isolates care). */
  #membership(session: Session, uuid: string, role: Role): void {
    this.#cluster?.membership(session, uuid, role);
  }

  /**
   * Closes one instance from outside (an admin): host and members both get `instance_closed`.
   * Returns false when no instance has that uuid.
   */
  closeInstanceByUuid(uuid: string, reason: CloseReason): boolean {
    const instance = this.instances.get(uuid);
    if (!instance) return false;
    instance.notifyHost({ type: "instance_closed", uuid, reason });
    this.closeInstance(instance, reason);
    return true;
  }

  /** Closes every instance of a service (used when a marketplace service is uninstalled). */
  closeInstancesOfService(service: string, reason: CloseReason): number {
    let closed = 0;
    for (const instance of [...this.instances.values()]) {
      if (instance.service !== service) continue;
      instance.notifyHost({ type: "instance_closed", uuid: instance.uuid, reason });
      this.closeInstance(instance, reason);
      closed++;
    }
    return closed;
  }

  /** Stops timers; instances are dropped without notifications (the sockets are closing too). */
  shutdown(): void {
    for (const instance of this.instances.values()) {
      clearTimeout(instance.graceTimer);
      instance.endRejoinHold();
      instance.releaseHolds();
    }
    this.instances.clear();
  }

  /** Looks an instance up or raises `unknown_instance`. */
  #instanceOrThrow(uuid: string): Instance {
    return instanceIn(this.instances, uuid);
  }

  #dispatch(
    session: Session,
    req: Exclude<ControlRequest, JoinInstance>,
    check?: SecretCheck,
  ): Response | Promise<Response> {
    switch (req.type) {
      case "create_instance":
        return this.#create(session, req);
      case "leave_instance":
        return this.#leave(session, req.uuid);
      case "list_instances":
        return { type: "instance_list", instances: this.list(req.service) };
      case "kick_client":
        return this.#kick(session, req);
      case "close_instance":
        return this.#closeByHost(session, req.uuid);
      case "resume_instance":
        return this.#resume(session, req, check);
      case "ping":
        return { type: "pong", received: session.peer.received };
      default:
        return req satisfies never;
    }
  }

  #checkServerToken(presented: string | undefined): void {
    const token = this.#deps.config.token;
    if (presented === undefined || token === undefined) return;
    if (!secretEquals(presented, token)) {
      throw new WstunError(ErrorCode.Unauthorized, "server_token does not match");
    }
  }

  /** Raises what `create_instance` refuses before anything is created: token, service, limit. */
  checkCreate(session: Session, req: CreateInstance): void {
    this.#checkServerToken(req.server_token);
    if (!this.#deps.catalog.has(req.service)) {
      throw new WstunError(ErrorCode.UnknownService, `no service named ${req.service}`);
    }
    const max = this.#deps.config.maxInstancesPerConnection;
    const hosted = (session.hosted?.size ?? 0) + (this.#cluster?.counts(session).hosted ?? 0);
    if (max && hosted >= max) {
      throw new WstunError(ErrorCode.LimitReached, `at most ${max} instances per connection`);
    }
  }

  #create(session: Session, req: CreateInstance): Response | Promise<Response> {
    this.checkCreate(session, req);
    const uuid = req.key === undefined
      ? ulid()
      : this.#deps.instanceSecrets.idFor(req.service, req.key);
    const existing = this.instances.get(uuid);
    // The key proves ownership as the resume secret does: take the live instance over.
    if (existing) return this.#reattach(session, existing);
    const secrets = this.#deps.instanceSecrets;
    const resume = randomSecret();
    const instance = new Instance(
      uuid,
      req.name,
      req.service,
      req.token ? secrets.tokenVerifier(uuid, req.token) : undefined,
      secrets.resumeVerifier(uuid, resume),
      this.#now(),
      session,
      req.key !== undefined,
    );
    this.instances.set(instance.uuid, instance);
    (session.hosted ??= new Set()).add(instance.uuid);
    this.#membership(session, instance.uuid, "host");
    this.#deps.stats.instancesCreated++;
    const created: Response = {
      type: "instance_created",
      uuid: instance.uuid,
      name: instance.name,
      service: instance.service,
      resume,
    };
    if (!this.#cluster) return created;
    // Answered once other isolates can find it, so a uuid handed out can be joined anywhere.
    return this.#cluster.published(instance).then(() => created, (err) => {
      this.closeInstance(instance, CloseReason.Closed);
      throw new WstunError(
        ErrorCode.BridgeUnavailable,
        `the instance directory is unavailable: ${(err as Error).message}`,
      );
    });
  }

  #answerJoin(session: Session, req: JoinInstance, forwarding: Forwarding, reply: Reply) {
    try {
      const { check, rejoinCheck } = forwarding;
      const { instance, member, held, replaced } = this.#join(session, req, check, rejoinCheck);
      const { userId } = member;
      // The member's own secret: made here for a socket here; for one elsewhere, made there.
      const resume = forwarding.memberVerifier === undefined ? randomSecret() : undefined;
      member.resumeVerifier = forwarding.memberVerifier ??
        this.#deps.instanceSecrets.memberVerifier(instance.uuid, resume!);
      reply({
        type: "ack",
        success: true,
        uuid: instance.uuid,
        userId,
        instanceName: instance.name,
        service: instance.service,
        resume,
        ref: req.ref,
      });
      if (held) this.#sendReplay(session, instance.uuid, held);
      else if (req.rejoin && !replaced) this.#replay(instance, userId);
    } catch (err) {
      if (!(err instanceof WstunError)) throw err;
      this.#failedAck(reply, req, err);
    }
  }

  /** A join's refusal: its failed `ack` alone, counted. */
  #failedAck(reply: Reply, req: JoinInstance, err: WstunError): void {
    const ack = failedAck(err, req.uuid, req.ref);
    this.#deps.stats.refused(ack.error!);
    reply(ack);
  }

  #join(
    session: Session,
    req: JoinInstance,
    check: SecretCheck = (expected) =>
      req.token !== undefined &&
      secretEquals(this.#deps.instanceSecrets.tokenVerifier(req.uuid, req.token), expected),
    rejoinCheck: SecretCheck = (expected) =>
      req.resume !== undefined &&
      secretEquals(this.#deps.instanceSecrets.memberVerifier(req.uuid, req.resume), expected),
  ): Joined {
    this.#checkServerToken(req.server_token);
    const instance = this.#instanceOrThrow(req.uuid);
    if (instance.tokenVerifier !== undefined && !check(instance.tokenVerifier)) {
      throw new WstunError(ErrorCode.Unauthorized, "wrong or missing instance token");
    }
    if (instance.host === session) {
      throw new WstunError(ErrorCode.AlreadyMember, "the host cannot join its own instance");
    }
    if (session.joined?.has(instance.uuid)) {
      throw new WstunError(ErrorCode.AlreadyMember, "already a member of this instance");
    }
    // A member whose place is held takes it back even while the host is away: it never left
    // (what it missed meanwhile, `host_away` included, was kept for it).
    const held = req.rejoin && req.userId !== undefined
      ? instance.members.get(req.userId)
      : undefined;
    // Its own secret proves it is the member (a userId alone is no proof: others may know it).
    if (held && held.resumeVerifier !== "" && rejoinCheck(held.resumeVerifier)) {
      this.checkJoinLimit(session);
      return held.held
        ? this.#takeOver(instance, held, session)
        : this.#replace(instance, held, session);
    }
    if (!instance.host) {
      throw new WstunError(ErrorCode.HostAway, "the host is away; try again", {
        retryAfterMs: RETRY_AFTER_MS,
      });
    }
    const maxMembers = this.#deps.config.maxMembersPerInstance;
    if (maxMembers && instance.members.size >= maxMembers) {
      throw new WstunError(ErrorCode.LimitReached, `instance is full (${maxMembers} members)`);
    }
    this.checkJoinLimit(session);
    const userId = req.userId ?? this.#freeUserId(instance);
    if (userId === HOST_USER_ID) {
      throw new WstunError(ErrorCode.UserIdTaken, `userId "${HOST_USER_ID}" is reserved`);
    }
    if (instance.members.has(userId)) {
      throw new WstunError(ErrorCode.UserIdTaken, `userId ${userId} is taken in this instance`);
    }
    const member = instance.addMember(userId, session);
    this.#membership(session, instance.uuid, "member");
    instance.notifyHost({ type: "client_connected", uuid: instance.uuid, userId });
    this.#cluster?.changed(instance);
    return { instance, member };
  }

  /**
   * A member whose place was held (its isolate drained) rejoined from `session`: it takes its
   * place back, and gets what was kept for it. The host was never told it left, so it is not
   * told it came back either.
   */
  #takeOver(
    instance: Instance,
    held: Member,
    session: Session,
  ): Joined {
    const hold = held.held!;
    const replay = hold.replay();
    instance.removeMember(held);
    if (!hold.detached) this.#membership(held.session, instance.uuid, "none");
    const member = instance.addMember(held.userId, session);
    this.#membership(session, instance.uuid, "member");
    return { instance, member, held: replay };
  }

  /**
   * A member came back with its own secret while its old connection still counts (it died without
   * a close: its process crashed, or the socket is half-open): the new one takes its place at
   * once. The old one, if anyone still reads it, is told it was `kicked`; the host sees no change
   * (what was sent to the old connection meanwhile is lost with it).
   */
  #replace(
    instance: Instance,
    old: Member,
    session: Session,
  ): Joined {
    const { uuid } = instance;
    instance.removeMember(old);
    this.#membership(old.session, uuid, "none");
    old.session.send({ type: "kicked", uuid, reason: "rejoined from another connection" });
    const member = instance.addMember(old.userId, session);
    this.#membership(session, uuid, "member");
    return { instance, member, replaced: true };
  }

  #freeUserId(instance: Instance): string {
    for (;;) {
      const id = `user-${randomSecret(6)}`;
      if (!instance.members.has(id)) return id;
    }
  }

  #leave(session: Session, uuid: string): Response {
    const instance = this.#instanceOrThrow(uuid);
    const member = session.joined?.get(uuid);
    if (!member) throw new WstunError(ErrorCode.NotMember, `not a member of ${uuid}`, { uuid });
    instance.removeMember(member);
    this.#membership(session, uuid, "none");
    instance.notifyHost({
      type: "client_disconnected",
      uuid,
      userId: member.userId,
      reason: LeaveReason.Left,
    });
    this.#cluster?.changed(instance);
    return undefined;
  }

  #hostedOrThrow(session: Session, uuid: string): Instance {
    const instance = this.#instanceOrThrow(uuid);
    if (instance.host !== session) {
      throw new WstunError(ErrorCode.Forbidden, `only the host of ${uuid} may do that`, { uuid });
    }
    return instance;
  }

  #kick(session: Session, req: KickClient): Response {
    const instance = this.#hostedOrThrow(session, req.uuid);
    const member = instance.members.get(req.userId);
    if (!member) {
      throw new WstunError(ErrorCode.NotMember, `${req.userId} is not a member`, {
        uuid: req.uuid,
        to: [req.userId],
      });
    }
    instance.removeMember(member);
    this.#membership(member.session, req.uuid, "none");
    member.session.send({ type: "kicked", uuid: req.uuid, reason: req.reason ?? "" });
    instance.notifyHost({
      type: "client_disconnected",
      uuid: req.uuid,
      userId: req.userId,
      reason: LeaveReason.Kicked,
    });
    this.#cluster?.changed(instance);
    return undefined;
  }

  #closeByHost(session: Session, uuid: string): Response {
    this.closeInstance(this.#hostedOrThrow(session, uuid), CloseReason.Closed);
    return undefined;
  }

  #hostLeft(instance: Instance): void {
    instance.host?.hosted?.delete(instance.uuid);
    instance.host = null;
    const grace = this.#deps.config.hostGraceMs;
    if (grace === 0) return this.closeInstance(instance, CloseReason.HostLeft);
    instance.notifyMembers({ type: "host_away", uuid: instance.uuid });
    instance.graceTimer = setTimeout(
      () => this.closeInstance(instance, CloseReason.HostLeft),
      grace,
    );
  }

  #resume(
    session: Session,
    req: ResumeInstance,
    check: SecretCheck = (expected) =>
      secretEquals(this.#deps.instanceSecrets.resumeVerifier(req.uuid, req.resume), expected),
  ): Response {
    const instance = this.#instanceOrThrow(req.uuid);
    if (!check(instance.resumeVerifier)) {
      throw new WstunError(ErrorCode.Unauthorized, "wrong resume secret", { uuid: req.uuid });
    }
    return this.#reattach(session, instance);
  }

  /** Makes `session` the host of `instance`, the previous host (if any) told it lost it. */
  #reattach(session: Session, instance: Instance): Response {
    const previous = instance.host;
    if (previous && previous !== session) {
      // The secret proves ownership: a host whose old socket is half-open takes over at once.
      previous.hosted?.delete(instance.uuid);
      this.#membership(previous, instance.uuid, "none");
      previous.send({
        type: "instance_closed",
        uuid: instance.uuid,
        reason: CloseReason.ResumedElsewhere,
      });
    }
    clearTimeout(instance.graceTimer);
    instance.graceTimer = undefined;
    instance.host = session;
    (session.hosted ??= new Set()).add(instance.uuid);
    this.#membership(session, instance.uuid, "host");
    if (!previous) instance.notifyMembers({ type: "host_back", uuid: instance.uuid });
    return { type: "instance_resumed", uuid: instance.uuid, members: [...instance.members.keys()] };
  }
}
