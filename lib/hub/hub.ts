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
import type { Config } from "../config.ts";
import {
  CloseReason,
  type ControlRequest,
  type CreateInstance,
  ErrorCode,
  HOST_USER_ID,
  type InstanceInfo,
  type JoinInstance,
  type KickClient,
  LeaveReason,
  type ListInstances,
  type Ref,
  type ResumeInstance,
} from "../protocol.ts";
import { randomSecret, secretEquals } from "../secret.ts";
import type { ServiceCatalog } from "../service_catalog.ts";
import type { Stats } from "../stats.ts";
import type { Federation, SecretCheck } from "./federation.ts";
import { HubError } from "./hub_error.ts";
import { Instance } from "./instance.ts";
import type { InstanceKeys } from "./instance_key.ts";
import { type Peer, Session } from "./peer.ts";
import { routeBinary, routeData } from "./routing.ts";

/** What the hub needs from its surroundings; tests pass real ones and swap only the clock. */
export interface HubDeps {
  config: Pick<
    Config,
    | "token"
    | "hostGraceMs"
    | "maxInstancesPerConnection"
    | "maxMembersPerInstance"
    | "maxJoinsPerConnection"
  >;
  catalog: ServiceCatalog;
  stats: Stats;
  /** Derives keyed instances' uuids under the server secret. */
  instanceKeys: InstanceKeys;
  now?: () => number;
}

type Response = object | undefined;

export class Hub {
  readonly instances = new Map<string, Instance>();
  readonly #deps: HubDeps;
  readonly #now: () => number;
  #federation: Federation | null = null;

  constructor(deps: HubDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Connects this hub to other isolates; requests for instances not here go through it. */
  federate(federation: Federation): void {
    this.#federation = federation;
  }

  /** Registers a newly connected socket. */
  attach(peer: Peer): Session {
    return new Session(peer);
  }

  /** Handles one validated control request and sends its direct answer. */
  control(session: Session, req: ControlRequest): void {
    const federation = this.#federation;
    if (federation) {
      if ("uuid" in req && !this.instances.has(req.uuid)) return federation.forward(session, req);
      if (req.type === "list_instances") return this.#answerList(federation, session, req);
      if (req.type === "create_instance" && req.key !== undefined) {
        // A keyed instance may be live on another isolate: the key takes it over there.
        const uuid = this.#deps.instanceKeys.idFor(req.service, req.key);
        if (!this.instances.has(uuid)) return federation.createKeyed(session, req, uuid);
      }
    }
    this.controlHere(session, req);
  }

  /**
   * Handles a request on this isolate only (the owner side of a forwarded request): `check`,
   * when given, verifies the join token or resume secret from a proof instead of the request.
   */
  controlHere(session: Session, req: ControlRequest, check?: SecretCheck): void {
    if (req.type === "join_instance") return this.#answerJoin(session, req, check);
    let response: Response;
    try {
      response = this.#dispatch(session, req, check);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      return this.sendError(session, err, req.ref);
    }
    if (response instanceof Promise) {
      response.then((r) => this.#answer(session, req.ref, r), (err) => {
        this.sendError(session, err instanceof HubError ? err : internalError(err), req.ref);
      });
      return;
    }
    this.#answer(session, req.ref, response);
  }

  #answer(session: Session, ref: Ref, response: Response): void {
    if (response) session.send(ref === undefined ? response : { ...response, ref });
    else if (ref !== undefined) session.send({ type: "ok", ref });
  }

  #answerList(federation: Federation, session: Session, req: ListInstances): void {
    federation.list(req.service).then(
      (instances) => this.#answer(session, req.ref, { type: "instance_list", instances }),
      (err) => this.sendError(session, internalError(err), req.ref),
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
    const joins = (session.joined?.size ?? 0) + (this.#federation?.joinedElsewhere(session) ?? 0);
    if (joins >= max) {
      throw new HubError(ErrorCode.LimitReached, `at most ${max} joins per connection`);
    }
  }

  /** Routes one application-data text frame (`msg` is `text` parsed); `ok` answers a `ref`. */
  data(session: Session, text: string, msg: Record<string, unknown>, ref: Ref): void {
    // Federated: a frame for an instance owned elsewhere goes straight to the bridge. Raising and
    // catching unknown_instance for it cost a third of the member isolate's time (bench profile).
    const federation = this.#federation;
    if (federation !== null && typeof msg.uuid === "string" && !this.instances.has(msg.uuid)) {
      return federation.forwardData(session, msg.uuid, text, ref);
    }
    try {
      routeData(this, session, text, msg);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      return this.sendError(session, err, ref);
    }
    if (ref !== undefined) session.send({ type: "ok", ref });
  }

  /** Routes one binary instance-data frame. */
  binary(session: Session, bytes: Uint8Array<ArrayBuffer>): void {
    try {
      routeBinary(this, session, bytes);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      if (this.#elsewhere(err)) {
        return this.#federation!.forwardData(session, err.extra!.uuid as string, bytes, undefined);
      }
      this.sendError(session, err);
    }
  }

  /** Only a miss (no such instance here) reaches this: the hot path never does. */
  #elsewhere(err: HubError): boolean {
    return this.#federation !== null && err.code === ErrorCode.UnknownInstance;
  }

  /** Sends an `error` frame for a refused request. */
  sendError(session: Session, err: HubError, ref?: Ref): void {
    this.#deps.stats.errors++;
    session.send({ type: "error", code: err.code, message: err.message, ref, ...err.extra });
  }

  /** Counts delivered data; routing calls it once per frame with the number of recipients. */
  countDelivered(recipients: number, size: number): void {
    const stats = this.#deps.stats;
    stats.messagesRelayed += recipients;
    stats.bytesRelayed += recipients * size;
  }

  /** A socket closed: its memberships end now, its instances wait for the host's grace. */
  detach(session: Session): void {
    if (session.joined) {
      for (const [uuid, member] of [...session.joined]) {
        const instance = this.instances.get(uuid);
        if (!instance) continue;
        instance.removeMember(member);
        instance.notifyHost({
          type: "client_disconnected",
          uuid,
          userId: member.userId,
          reason: LeaveReason.Disconnected,
        });
        this.#federation?.changed(instance);
      }
    }
    if (session.hosted) {
      for (const uuid of [...session.hosted]) {
        const instance = this.instances.get(uuid);
        if (instance) this.#hostLeft(instance);
      }
    }
    this.#federation?.detached(session);
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
    return this.#federation ? this.#federation.list(service) : Promise.resolve(this.list(service));
  }

  /** Ends an instance: members are told why, the host's bookkeeping forgets it. */
  closeInstance(instance: Instance, reason: CloseReason): void {
    clearTimeout(instance.graceTimer);
    this.instances.delete(instance.uuid);
    instance.host?.hosted?.delete(instance.uuid);
    instance.notifyMembers({ type: "instance_closed", uuid: instance.uuid, reason });
    for (const member of instance.members.values()) member.session.joined?.delete(instance.uuid);
    instance.members.clear();
    this.#federation?.removed(instance.uuid);
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
    for (const instance of this.instances.values()) clearTimeout(instance.graceTimer);
    this.instances.clear();
  }

  /** Looks an instance up or raises `unknown_instance`. */
  instanceOrThrow(uuid: string): Instance {
    const instance = this.instances.get(uuid);
    if (!instance) throw new HubError(ErrorCode.UnknownInstance, `no instance ${uuid}`, { uuid });
    return instance;
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
        return { type: "pong" };
      default:
        return req satisfies never;
    }
  }

  #checkServerToken(presented: string | undefined): void {
    const token = this.#deps.config.token;
    if (presented === undefined || token === undefined) return;
    if (!secretEquals(presented, token)) {
      throw new HubError(ErrorCode.Unauthorized, "server_token does not match");
    }
  }

  /** Raises what `create_instance` refuses before anything is created: token, service, limit. */
  checkCreate(session: Session, req: CreateInstance): void {
    this.#checkServerToken(req.server_token);
    if (!this.#deps.catalog.has(req.service)) {
      throw new HubError(ErrorCode.UnknownService, `no service named ${req.service}`);
    }
    const max = this.#deps.config.maxInstancesPerConnection;
    const hosted = (session.hosted?.size ?? 0) + (this.#federation?.hostedElsewhere(session) ?? 0);
    if (max && hosted >= max) {
      throw new HubError(ErrorCode.LimitReached, `at most ${max} instances per connection`);
    }
  }

  #create(session: Session, req: CreateInstance): Response | Promise<Response> {
    this.checkCreate(session, req);
    const uuid = req.key === undefined
      ? ulid()
      : this.#deps.instanceKeys.idFor(req.service, req.key);
    const existing = this.instances.get(uuid);
    // The key proves ownership as the resume secret does: take the live instance over.
    if (existing) return this.#reattach(session, existing);
    const instance = new Instance(
      uuid,
      req.name,
      req.service,
      req.token || undefined,
      randomSecret(),
      this.#now(),
      session,
    );
    this.instances.set(instance.uuid, instance);
    (session.hosted ??= new Set()).add(instance.uuid);
    this.#deps.stats.instancesCreated++;
    const created = {
      type: "instance_created",
      uuid: instance.uuid,
      name: instance.name,
      service: instance.service,
      resume: instance.resume,
    };
    if (!this.#federation) return created;
    // Answered once other isolates can find it, so a uuid handed out can be joined anywhere.
    return this.#federation.published(instance).then(() => created, (err) => {
      this.closeInstance(instance, CloseReason.Closed);
      throw new HubError(
        ErrorCode.BridgeUnavailable,
        `the instance directory is unavailable: ${(err as Error).message}`,
      );
    });
  }

  #answerJoin(session: Session, req: JoinInstance, check?: SecretCheck): void {
    try {
      const { instance, userId } = this.#join(session, req, check);
      session.send({
        type: "ack",
        success: true,
        uuid: instance.uuid,
        userId,
        instanceName: instance.name,
        service: instance.service,
        ref: req.ref,
      });
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      this.#deps.stats.errors++;
      session.send({
        type: "ack",
        success: false,
        uuid: req.uuid,
        error: err.code,
        message: err.message,
        ref: req.ref,
      });
    }
  }

  #join(
    session: Session,
    req: JoinInstance,
    check: SecretCheck = (expected) => secretEquals(req.token, expected),
  ): { instance: Instance; userId: string } {
    this.#checkServerToken(req.server_token);
    const instance = this.instanceOrThrow(req.uuid);
    if (instance.token !== undefined && !check(instance.token)) {
      throw new HubError(ErrorCode.Unauthorized, "wrong or missing instance token");
    }
    if (!instance.host) throw new HubError(ErrorCode.HostAway, "the host is away; try again");
    if (instance.host === session) {
      throw new HubError(ErrorCode.AlreadyMember, "the host cannot join its own instance");
    }
    if (session.joined?.has(instance.uuid)) {
      throw new HubError(ErrorCode.AlreadyMember, "already a member of this instance");
    }
    const maxMembers = this.#deps.config.maxMembersPerInstance;
    if (maxMembers && instance.members.size >= maxMembers) {
      throw new HubError(ErrorCode.LimitReached, `instance is full (${maxMembers} members)`);
    }
    this.checkJoinLimit(session);
    const userId = req.userId ?? this.#freeUserId(instance);
    if (userId === HOST_USER_ID) {
      throw new HubError(ErrorCode.UserIdTaken, `userId "${HOST_USER_ID}" is reserved`);
    }
    if (instance.members.has(userId)) {
      throw new HubError(ErrorCode.UserIdTaken, `userId ${userId} is taken in this instance`);
    }
    instance.addMember(userId, session);
    instance.notifyHost({ type: "client_connected", uuid: instance.uuid, userId });
    this.#federation?.changed(instance);
    return { instance, userId };
  }

  #freeUserId(instance: Instance): string {
    for (;;) {
      const id = `user-${randomSecret(6)}`;
      if (!instance.members.has(id)) return id;
    }
  }

  #leave(session: Session, uuid: string): Response {
    const instance = this.instanceOrThrow(uuid);
    const member = session.joined?.get(uuid);
    if (!member) throw new HubError(ErrorCode.NotMember, `not a member of ${uuid}`, { uuid });
    instance.removeMember(member);
    instance.notifyHost({
      type: "client_disconnected",
      uuid,
      userId: member.userId,
      reason: LeaveReason.Left,
    });
    this.#federation?.changed(instance);
    return undefined;
  }

  #hostedOrThrow(session: Session, uuid: string): Instance {
    const instance = this.instanceOrThrow(uuid);
    if (instance.host !== session) {
      throw new HubError(ErrorCode.Forbidden, `only the host of ${uuid} may do that`, { uuid });
    }
    return instance;
  }

  #kick(session: Session, req: KickClient): Response {
    const instance = this.#hostedOrThrow(session, req.uuid);
    const member = instance.members.get(req.userId);
    if (!member) {
      throw new HubError(ErrorCode.NotMember, `${req.userId} is not a member`, {
        uuid: req.uuid,
        to: [req.userId],
      });
    }
    instance.removeMember(member);
    member.session.send({ type: "kicked", uuid: req.uuid, reason: req.reason ?? "" });
    instance.notifyHost({
      type: "client_disconnected",
      uuid: req.uuid,
      userId: req.userId,
      reason: LeaveReason.Kicked,
    });
    this.#federation?.changed(instance);
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
    check: SecretCheck = (expected) => secretEquals(req.resume, expected),
  ): Response {
    const instance = this.instanceOrThrow(req.uuid);
    if (!check(instance.resume)) {
      throw new HubError(ErrorCode.Unauthorized, "wrong resume secret", { uuid: req.uuid });
    }
    return this.#reattach(session, instance);
  }

  /** Makes `session` the host of `instance`, the previous host (if any) told it lost it. */
  #reattach(session: Session, instance: Instance): Response {
    const previous = instance.host;
    if (previous !== session) {
      // The secret proves ownership: a host whose old socket is half-open takes over at once.
      previous?.hosted?.delete(instance.uuid);
      previous?.send({
        type: "instance_closed",
        uuid: instance.uuid,
        reason: CloseReason.ResumedElsewhere,
      });
    }
    clearTimeout(instance.graceTimer);
    instance.graceTimer = undefined;
    instance.host = session;
    (session.hosted ??= new Set()).add(instance.uuid);
    if (!previous) instance.notifyMembers({ type: "host_back", uuid: instance.uuid });
    return { type: "instance_resumed", uuid: instance.uuid, members: [...instance.members.keys()] };
  }
}

function internalError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  return new HubError(ErrorCode.BridgeUnavailable, `other isolates unreachable: ${String(err)}`);
}
