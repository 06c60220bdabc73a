/**
 * Makes the hubs of several isolates behave as one: the hub's {@link Federation}, over a
 * {@link Bridge} (messages between isolates) and a {@link Directory} (who owns which instance,
 * who is alive).
 *
 * The model: an instance lives on the isolate where it was created (its owner), with its rules
 * and state. A connection on another isolate that joins it, or a host that resumes it from
 * another isolate, is represented on the owner by a {@link Session} whose peer posts frames back
 * over the bridge. So every protocol rule runs unchanged, in one place, and a same-isolate frame
 * never touches this module. The isolate where the socket lives forwards its requests and data
 * for remote instances to the owner, remembers which of its sockets belong to which remote
 * instances, and turns the owner's death into `instance_closed` `host_left`.
 *
 * Guarantees: per-sender order within an instance (a link carries one sender isolate's frames to
 * one receiver in order); a lost bridge message is reported as an `error` `bridge_gap` to the
 * sockets with traffic on that link; a join, resume or answered request that gets no answer within
 * `timeoutMs` is answered `bridge_timeout`; join tokens and resume secrets cross as proofs
 * (secret_proof.ts), never in clear; a dead isolate is noticed within four heartbeats.
 *
 * @module
 */
import { ulid } from "ulid";
import type { Hub } from "../hub/hub.ts";
import type { Federation, InstanceRequest } from "../hub/federation.ts";
import { HubError } from "../hub/hub_error.ts";
import type { Instance } from "../hub/instance.ts";
import { type Peer, Session } from "../hub/peer.ts";
import {
  CloseReason,
  type ControlRequest,
  type CreateInstance,
  ErrorCode,
  type InstanceInfo,
  type Ref,
} from "../protocol.ts";
import type { Bridge, BridgeBody, Envelope, SecretProof } from "./bridge.ts";
import { type Directory, type InstanceRecord, isolateTtlMs, RECORD_TTL_MS } from "./directory.ts";
import { LinkSequencer } from "./link_sequencer.ts";
import type { ChannelMessage } from "../pubsub/channel_message.ts";
import { proofMatches, proveSecret } from "./secret_proof.ts";

/** The sequence-number link of broadcasts (prefixed to the sender's id on the receiving side). */
const BROADCAST_LINK = "*";

export interface FederationOptions {
  bridge: Bridge;
  directory: Directory;
  /** How often this isolate proves it is alive and checks the isolates it talks to. */
  heartbeatMs: number;
  /** How long a forwarded join or answered request waits for the owner. */
  timeoutMs: number;
  /** This isolate's id; a fresh ulid by default. */
  isolate?: string;
  now?: () => number;
}

/** A forwarded request waiting for its answer from the owner. */
interface Pending {
  req: InstanceRequest;
  owner: string;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Frames the owner sends that change what this isolate must remember about a socket. */
const SNIFFED = ['{"type":"ack"', '{"type":"kicked"', '{"type":"instance_closed"'];

export class BridgeFederation implements Federation {
  readonly isolate: string;
  readonly #hub: Hub;
  readonly #opts: FederationOptions;
  readonly #seq = new LinkSequencer();
  /** When each isolate last sent us anything: proof of life besides its heartbeat. */
  readonly #lastHeard = new Map<string, number>();
  // The side where sockets live.
  readonly #connIds = new WeakMap<Session, string>();
  readonly #local = new Map<string, Session>();
  /** Per local socket: uuid → owner isolate of the remote instances it belongs to. */
  readonly #away = new WeakMap<Session, Map<string, string>>();
  /** Local socket → the uuids in its `#away` that it joined (the rest it hosts from here). */
  readonly #awayJoins = new WeakMap<Session, Set<string>>();
  readonly #pending = new Map<string, Pending[]>();
  /** Per local socket: every owner it sent anything to, told when the socket closes. */
  readonly #contacted = new WeakMap<Session, Set<string>>();
  // The owner side.
  readonly #remote = new Map<string, Session>();
  readonly #remoteKeys = new WeakMap<Session, { isolate: string; conn: string }>();
  // Directory upkeep.
  readonly #dirty = new Set<Instance>();
  #flushing: Promise<void> | null = null;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastRefresh = 0;
  #beating: Promise<void> = Promise.resolve();
  #stopped = false;
  // Pub/sub: publishes broadcast to every isolate.
  #channelDeliver: ((message: ChannelMessage) => void) | null = null;
  // Tunnels: relay messages for streams carried between isolates.
  #tunnelDeliver: ((from: string, m: Record<string, unknown>) => void) | null = null;
  /** Records kept beside the instance records (tunnels'), renewed with them. */
  #renewers: (() => Promise<void>)[] = [];
  /** Channel publishes from other isolates known lost (a gap on their broadcast link). */
  channelMessagesLost = 0;
  /** When the directory last became reachable; null while it is not. */
  #reachableSince: number | null = 0;

  private constructor(hub: Hub, opts: FederationOptions) {
    this.#hub = hub;
    this.#opts = opts;
    this.isolate = opts.isolate ?? ulid();
  }

  /** Joins the federation: listens on the bridge, beats once, then every heartbeat. */
  static async start(hub: Hub, opts: FederationOptions): Promise<BridgeFederation> {
    const federation = new BridgeFederation(hub, opts);
    opts.bridge.listen(federation.isolate, (e) => federation.#receive(e));
    await opts.directory.beat(federation.isolate, isolateTtlMs(opts.heartbeatMs));
    federation.#lastRefresh = federation.#now();
    hub.federate(federation);
    federation.#heartbeat = setInterval(() => {
      federation.#beating = federation.#beat();
    }, opts.heartbeatMs);
    return federation;
  }

  /** Leaves: says goodbye to the isolates it talks to, removes its records, closes the bridge. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    await this.#beating;
    await this.#flushing;
    for (const isolate of this.#peerIsolates()) this.#post(isolate, { k: "bye" });
    for (const list of this.#pending.values()) for (const p of list) clearTimeout(p.timer);
    this.#pending.clear();
    try {
      await this.#opts.directory.leave(this.isolate, [...this.#hub.instances.keys()]);
    } catch (err) {
      console.error(`wstun bridge: could not remove this isolate's records: ${err}`);
    }
    await this.#opts.bridge.close();
    await this.#opts.directory.close();
  }

  /** Receives tunnel relay messages from other isolates (one receiver). */
  onTunnel(deliver: (from: string, m: Record<string, unknown>) => void): void {
    this.#tunnelDeliver = deliver;
  }

  /** Posts a tunnel relay message to `isolate`, in order with everything else on that link. */
  postTunnel(isolate: string, m: Record<string, unknown>): void {
    this.#post(isolate, { k: "tun", m });
  }

  /**
   * Runs `renew` whenever this isolate rewrites its instance records (every third of their expiry,
   * and at once when the store lost them: a restarted Redis), so other records it keeps in the
   * directory's store expire and come back the same way. `renew` handles its own failures.
   */
  onRenew(renew: () => Promise<void>): void {
    this.#renewers.push(renew);
  }

  /** Whether `isolate` is alive according to the directory. */
  isolateAlive(isolate: string): Promise<boolean> {
    return isolate === this.isolate ? Promise.resolve(true) : this.#opts.directory.alive(isolate);
  }

  /** How long a forwarded request waits for the other isolate. */
  get timeoutMs(): number {
    return this.#opts.timeoutMs;
  }

  // ---- Federation (called by the hub) ----

  published(instance: Instance): Promise<void> {
    return this.#opts.directory.put([this.#record(instance)]);
  }

  changed(instance: Instance): void {
    this.#dirty.add(instance);
    this.#flushing ??= Promise.resolve().then(() => this.#flush());
  }

  removed(uuid: string): void {
    for (const instance of this.#dirty) if (instance.uuid === uuid) this.#dirty.delete(instance);
    if (this.#stopped) return;
    this.#opts.directory.remove(uuid).catch((err) => {
      console.error(`wstun bridge: could not remove instance ${uuid}: ${err}`);
    });
  }

  forward(session: Session, req: InstanceRequest): void {
    if (this.#remoteKeys.has(session)) {
      return this.#refuse(session, req, ErrorCode.UnknownInstance, `no instance ${req.uuid}`);
    }
    try {
      this.#hub.checkServerToken("server_token" in req ? req.server_token : undefined);
      if (req.type === "join_instance" && !this.#away.get(session)?.has(req.uuid)) {
        this.#hub.checkJoinLimit(session);
      }
    } catch (err) {
      const e = err as HubError;
      return this.#refuse(session, req, e.code, e.message);
    }
    const known = this.#away.get(session)?.get(req.uuid);
    if (known) return this.#send(session, req, known);
    this.#opts.directory.get(req.uuid).then((record) => {
      if (!record) {
        return this.#refuse(session, req, ErrorCode.UnknownInstance, `no instance ${req.uuid}`);
      }
      if (record.owner === this.isolate) {
        // Ours but gone by now (closed between the miss and the lookup).
        return this.#refuse(session, req, ErrorCode.UnknownInstance, `no instance ${req.uuid}`);
      }
      this.#send(session, req, record.owner);
    }, (err) => {
      this.#refuse(session, req, ErrorCode.BridgeUnavailable, `instance directory: ${err}`);
    });
  }

  createKeyed(session: Session, req: CreateInstance, uuid: string): void {
    const takeOver: InstanceRequest = { type: "resume_instance", uuid, resume: "", ref: req.ref };
    try {
      this.#hub.checkCreate(session, req);
    } catch (err) {
      const e = err as HubError;
      return this.#refuse(session, takeOver, e.code, e.message);
    }
    // Claimed before it exists, atomically: of two isolates creating one key at once, one
    // creates and the other takes that instance over (a plain read could let both create).
    const provisional: InstanceRecord = {
      uuid,
      name: req.name,
      service: req.service,
      protected: Boolean(req.token),
      members: 0,
      createdAt: new Date(this.#now()).toISOString(),
      owner: this.isolate,
    };
    this.#opts.directory.claim(provisional).then((holder) => {
      if (!holder || this.#hub.instances.has(uuid)) {
        this.#hub.controlHere(session, req);
        if (!this.#hub.instances.has(uuid)) this.#unclaim(uuid);
        return;
      }
      this.#send(session, takeOver, holder.owner, true);
    }, (err) => {
      this.#refuse(session, takeOver, ErrorCode.BridgeUnavailable, `instance directory: ${err}`);
    });
  }

  /** Removes a claim whose create was refused after all, unless another isolate holds it now. */
  #unclaim(uuid: string): void {
    this.#opts.directory.get(uuid).then((record) => {
      if (record?.owner === this.isolate && !this.#hub.instances.has(uuid)) this.removed(uuid);
    }).catch((err) => console.error(`wstun bridge: could not drop the claim of ${uuid}: ${err}`));
  }

  forwardData(session: Session, uuid: string, frame: string | Uint8Array, ref: Ref): void {
    const owner = this.#away.get(session)?.get(uuid);
    if (owner && !this.#remoteKeys.has(session)) {
      const conn = this.#register(session);
      const body: BridgeBody = typeof frame === "string"
        ? { k: "data", conn, text: frame }
        : { k: "bin", conn, bytes: frame as Uint8Array<ArrayBuffer> };
      return this.#post(owner, body);
    }
    const notHere = (code: ErrorCode, message: string) =>
      this.#hub.sendError(session, new HubError(code, message, { uuid }), ref);
    this.#opts.directory.get(uuid).then(
      (record) =>
        record
          ? notHere(ErrorCode.NotMember, `not the host or a member of ${uuid}`)
          : notHere(ErrorCode.UnknownInstance, `no instance ${uuid}`),
      (err) => notHere(ErrorCode.BridgeUnavailable, `instance directory: ${err}`),
    );
  }

  async list(service?: string): Promise<InstanceInfo[]> {
    const records = await this.#opts.directory.list();
    const out: InstanceInfo[] = [];
    for (const record of records) {
      if (service !== undefined && record.service !== service) continue;
      // Our own instances: the live count, not the last one written.
      const local = this.#hub.instances.get(record.uuid);
      if (local) out.push(local.info());
      else if (record.owner !== this.isolate) out.push(publicInfo(record));
    }
    return out;
  }

  detached(session: Session): void {
    const remote = this.#remoteKeys.get(session);
    if (remote) {
      this.#remote.delete(`${remote.isolate} ${remote.conn}`);
      return;
    }
    const conn = this.#connIds.get(session);
    if (conn === undefined) return;
    const owners = new Set(this.#contacted.get(session));
    for (const p of this.#pending.get(conn) ?? []) {
      clearTimeout(p.timer);
      owners.add(p.owner);
    }
    this.#pending.delete(conn);
    for (const owner of owners) this.#post(owner, { k: "detach", conn });
    this.#local.delete(conn);
    this.#away.delete(session);
    this.#awayJoins.delete(session);
    this.#contacted.delete(session);
  }

  // ---- the side where the socket lives ----

  joinedElsewhere(session: Session): number {
    const conn = this.#connIds.get(session);
    let pendingJoins = 0;
    for (const p of conn === undefined ? [] : this.#pending.get(conn) ?? []) {
      if (p.req.type === "join_instance") pendingJoins++;
    }
    return (this.#awayJoins.get(session)?.size ?? 0) + pendingJoins;
  }

  hostedElsewhere(session: Session): number {
    // `#away` holds both: what the socket joined there and what it hosts there.
    return (this.#away.get(session)?.size ?? 0) - (this.#awayJoins.get(session)?.size ?? 0);
  }

  #forgetAway(session: Session, uuid: string): void {
    this.#away.get(session)?.delete(uuid);
    this.#awayJoins.get(session)?.delete(uuid);
  }

  #register(session: Session): string {
    let conn = this.#connIds.get(session);
    if (conn === undefined) {
      conn = ulid();
      this.#connIds.set(session, conn);
      this.#local.set(conn, session);
    }
    return conn;
  }

  #send(session: Session, req: InstanceRequest, owner: string, verified = false): void {
    const conn = this.#register(session);
    const { frame, proof } = verified ? { frame: req, proof: undefined } : withoutSecrets(req);
    if (req.type === "leave_instance" || req.type === "close_instance") {
      this.#forgetAway(session, req.uuid);
    }
    if (needsAnswer(req)) {
      const pending: Pending = { req, owner, timer: undefined };
      pending.timer = setTimeout(
        () => this.#timedOut(session, conn, pending),
        this.#opts.timeoutMs,
      );
      const list = this.#pending.get(conn);
      if (list) list.push(pending);
      else this.#pending.set(conn, [pending]);
    }
    this.#contact(session, owner);
    this.#post(owner, { k: "req", conn, frame, proof, verified: verified || undefined });
  }

  #contact(session: Session, owner: string): void {
    const owners = this.#contacted.get(session);
    if (owners) owners.add(owner);
    else this.#contacted.set(session, new Set([owner]));
  }

  #timedOut(session: Session, conn: string, pending: Pending): void {
    this.#unpend(conn, pending);
    const { req, owner } = pending;
    const message =
      `the isolate that owns ${req.uuid} did not answer within ${this.#opts.timeoutMs} ms`;
    this.#refuse(session, req, ErrorCode.BridgeTimeout, message);
    // The owner may still act on it later: undo a join so no one is left half-joined.
    if (req.type === "join_instance") this.#post(owner, { k: "undo", conn, uuid: req.uuid });
  }

  #unpend(conn: string, pending: Pending): void {
    const list = this.#pending.get(conn);
    if (!list) return;
    const i = list.indexOf(pending);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#pending.delete(conn);
  }

  /** A request refused here: a failed ack for a join, an error for the rest. */
  #refuse(session: Session, req: InstanceRequest, code: ErrorCode, message: string): void {
    if (req.type === "join_instance") {
      session.send({
        type: "ack",
        success: false,
        uuid: req.uuid,
        error: code,
        message,
        ref: req.ref,
      });
      return;
    }
    this.#hub.sendError(session, new HubError(code, message, { uuid: req.uuid }), req.ref);
  }

  /** A frame from an owner for one of our sockets: keep our bookkeeping, then deliver it. */
  #deliver(from: string, conn: string, text: string): void {
    const session = this.#local.get(conn);
    if (!session) return; // closed meanwhile; its detach is on the way to the owner
    const pending = this.#pending.get(conn);
    if (pending || SNIFFED.some((p) => text.startsWith(p))) {
      if (!this.#track(from, conn, session, pending, JSON.parse(text))) return;
    }
    session.peer.sendText(text);
  }

  /** Updates what a socket belongs to from an owner's frame; false = a late answer to drop. */
  #track(
    from: string,
    conn: string,
    session: Session,
    pending: Pending[] | undefined,
    // deno-lint-ignore no-explicit-any
    frame: Record<string, any>,
  ): boolean {
    const answered = pending?.find((p) => answers(p.req, frame));
    if (answered) {
      clearTimeout(answered.timer);
      this.#unpend(conn, answered);
    }
    const isAnswer = frame.type === "ack" || frame.type === "instance_resumed";
    if (isAnswer && !answered) return false; // its request timed out and was answered already
    const joinedNow = (frame.type === "ack" && frame.success) || frame.type === "instance_resumed";
    if (joinedNow) {
      let away = this.#away.get(session);
      if (!away) this.#away.set(session, away = new Map());
      away.set(frame.uuid, from);
      if (frame.type === "ack") {
        let joins = this.#awayJoins.get(session);
        if (!joins) this.#awayJoins.set(session, joins = new Set());
        joins.add(frame.uuid);
      } else {
        this.#awayJoins.get(session)?.delete(frame.uuid); // hosting it now, not a member
      }
    } else if (frame.type === "kicked" || frame.type === "instance_closed") {
      this.#forgetAway(session, frame.uuid);
    }
    return true;
  }

  // ---- the owner side ----

  #remoteSession(isolate: string, conn: string): Session {
    const key = `${isolate} ${conn}`;
    let session = this.#remote.get(key);
    if (!session) {
      session = new Session(new RemotePeer(this, isolate, conn));
      this.#remote.set(key, session);
      this.#remoteKeys.set(session, { isolate, conn });
    }
    return session;
  }

  #request(
    from: string,
    conn: string,
    frame: Record<string, unknown>,
    proof?: SecretProof,
    verified?: boolean,
  ): void {
    const session = this.#remoteSession(from, conn);
    const check = verified
      ? () => true
      : proof
      ? (expected: string) => proofMatches(proof, expected)
      : undefined;
    this.#hub.controlHere(session, frame as ControlRequest, check);
  }

  #data(from: string, conn: string, text: string): void {
    const session = this.#remoteSession(from, conn);
    const msg = JSON.parse(text) as Record<string, unknown>;
    const ref = typeof msg.ref === "number" || typeof msg.ref === "string" ? msg.ref : undefined;
    this.#hub.data(session, text, msg, ref);
  }

  #undo(from: string, conn: string, uuid: string): void {
    const session = this.#remote.get(`${from} ${conn}`);
    if (!session?.joined?.has(uuid)) return;
    this.#hub.controlHere(session, { type: "leave_instance", uuid });
  }

  /** Sends a frame to a socket on another isolate. */
  // ---- pub/sub ----

  /** Where channel publishes from other isolates are handed to this isolate's registry. */
  onChannelMessage(deliver: (message: ChannelMessage) => void): void {
    this.#channelDeliver = deliver;
  }

  /** Sends a channel publish to every other isolate, numbered on this isolate's broadcast link. */
  publishChannel(message: ChannelMessage): void {
    this.#opts.bridge.broadcast({
      from: this.isolate,
      seq: this.#seq.next(BROADCAST_LINK),
      body: { k: "chpub", message },
      all: true,
    });
  }

  #receiveBroadcast(envelope: Envelope): void {
    const { from, body } = envelope;
    if (from === this.isolate) return;
    this.#lastHeard.set(from, this.#now());
    const lost = this.#seq.check(BROADCAST_LINK + from, envelope.seq, true);
    if (lost < 0) return;
    if (lost > 0) {
      this.channelMessagesLost += lost;
      console.error(`wstun bridge: ${lost} channel publish(es) from isolate ${from} were lost`);
    }
    if (body.k === "chpub") this.#channelDeliver?.(body.message);
  }

  postOut(isolate: string, conn: string, frame: string | Uint8Array<ArrayBuffer>): void {
    this.#post(
      isolate,
      typeof frame === "string"
        ? { k: "out", conn, text: frame }
        : { k: "outbin", conn, bytes: frame },
    );
  }

  // ---- both sides ----

  #post(isolate: string, body: BridgeBody): void {
    this.#opts.bridge.post(isolate, { from: this.isolate, seq: this.#seq.next(isolate), body });
  }

  #receive(envelope: Envelope): void {
    if (envelope.all) return this.#receiveBroadcast(envelope);
    const { from, body } = envelope;
    this.#lastHeard.set(from, this.#now());
    const lost = this.#seq.check(from, envelope.seq);
    if (lost < 0) return;
    if (lost > 0) this.#reportGap(from, lost);
    switch (body.k) {
      case "req":
        return this.#request(from, body.conn, body.frame, body.proof, body.verified);
      case "data":
        return this.#data(from, body.conn, body.text);
      case "bin":
        return this.#hub.binary(this.#remoteSession(from, body.conn), body.bytes);
      case "out":
        return this.#deliver(from, body.conn, body.text);
      case "outbin":
        return this.#local.get(body.conn)?.peer.sendBinary(body.bytes);
      case "undo":
        return this.#undo(from, body.conn, body.uuid);
      case "detach": {
        const session = this.#remote.get(`${from} ${body.conn}`);
        if (session) this.#hub.detach(session);
        return;
      }
      case "bye":
        return this.#isolateGone(from);
      case "chpub":
        return this.#channelDeliver?.(body.message);
      case "tun":
        return this.#tunnelDeliver?.(from, body.m);
      default:
        return body satisfies never;
    }
  }

  /** Tells every socket with traffic on the link from `from` that frames were lost. */
  #reportGap(from: string, lost: number): void {
    const gap = (uuid: string) => ({
      type: "error",
      code: ErrorCode.BridgeGap,
      message: `${lost} bridge message(s) from another isolate were lost`,
      uuid,
      lost,
    });
    for (const session of this.#local.values()) {
      for (const [uuid, owner] of this.#away.get(session) ?? []) {
        if (owner === from) session.send(gap(uuid));
      }
    }
    for (const session of this.#remote.values()) {
      if (this.#remoteKeys.get(session)?.isolate !== from) continue;
      for (const uuid of session.joined?.keys() ?? []) {
        this.#hub.instances.get(uuid)?.notifyHost(gap(uuid));
      }
      for (const uuid of session.hosted ?? []) {
        this.#hub.instances.get(uuid)?.notifyMembers(gap(uuid));
      }
    }
  }

  /** An isolate died or left: its sockets leave our instances, our sockets lose its instances. */
  #isolateGone(isolate: string): void {
    for (const [key, session] of [...this.#remote]) {
      if (this.#remoteKeys.get(session)?.isolate === isolate) {
        this.#hub.detach(session);
        this.#remote.delete(key);
      }
    }
    for (const [conn, session] of this.#local) {
      const away = this.#away.get(session);
      for (const [uuid, owner] of away ?? []) {
        if (owner !== isolate) continue;
        this.#forgetAway(session, uuid);
        session.send({ type: "instance_closed", uuid, reason: CloseReason.HostLeft });
      }
      for (const p of [...this.#pending.get(conn) ?? []]) {
        if (p.owner !== isolate) continue;
        clearTimeout(p.timer);
        this.#unpend(conn, p);
        this.#refuse(
          session,
          p.req,
          ErrorCode.UnknownInstance,
          `the owner of ${p.req.uuid} is gone`,
        );
      }
    }
    this.#seq.forget(isolate);
    this.#seq.forget(BROADCAST_LINK + isolate);
    this.#lastHeard.delete(isolate);
    this.#opts.bridge.forget?.(isolate);
  }

  /** Isolates this one has sockets or requests with. */
  #peerIsolates(): Set<string> {
    const out = new Set<string>();
    for (const session of this.#remote.values()) out.add(this.#remoteKeys.get(session)!.isolate);
    for (const [conn, session] of this.#local) {
      for (const owner of this.#away.get(session)?.values() ?? []) out.add(owner);
      for (const p of this.#pending.get(conn) ?? []) out.add(p.owner);
    }
    return out;
  }

  async #beat(): Promise<void> {
    const { directory, heartbeatMs } = this.#opts;
    try {
      const continuous = await directory.beat(this.isolate, isolateTtlMs(heartbeatMs));
      // A store that lost us (a restarted Redis, a missed beat) gets every record again.
      if (!continuous || this.#now() - this.#lastRefresh > RECORD_TTL_MS / 3) {
        this.#lastRefresh = this.#now();
        await directory.put([...this.#hub.instances.values()].map((i) => this.#record(i)));
        await Promise.all(this.#renewers.map((renew) => renew()));
      }
      // Right after the store was unreachable (a Redis restart), peers may not have beaten again
      // yet: judge them only once the store has been reachable for a whole ttl.
      // A store that forgot us was restarted: peers have not beaten into it again yet either.
      if (!continuous) this.#reachableSince = this.#now();
      this.#reachableSince ??= this.#now();
      if (this.#now() - this.#reachableSince < isolateTtlMs(heartbeatMs)) return;
      const ttl = isolateTtlMs(heartbeatMs);
      for (const isolate of this.#peerIsolates()) {
        if (this.#stopped) return;
        // A busy isolate whose beat is late is still alive if it spoke within the ttl.
        if (this.#now() - (this.#lastHeard.get(isolate) ?? 0) < ttl) continue;
        if (!(await directory.alive(isolate))) this.#isolateGone(isolate);
      }
    } catch (err) {
      if (this.#reachableSince !== null) {
        console.error(`wstun bridge: heartbeat failed: ${err}`);
      }
      this.#reachableSince = null;
    }
  }

  async #flush(): Promise<void> {
    while (this.#dirty.size > 0) {
      const records = [...this.#dirty].map((i) => this.#record(i));
      this.#dirty.clear();
      try {
        await this.#opts.directory.put(records);
      } catch (err) {
        console.error(`wstun bridge: could not update instance records: ${err}`);
      }
    }
    this.#flushing = null;
  }

  #record(instance: Instance): InstanceRecord {
    return { ...instance.info(), owner: this.isolate };
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }
}

/** The owner's stand-in for a socket on another isolate: frames go back over the bridge. */
class RemotePeer implements Peer {
  constructor(
    readonly federation: BridgeFederation,
    readonly isolate: string,
    readonly conn: string,
  ) {}

  sendText(text: string): void {
    this.federation.postOut(this.isolate, this.conn, text);
  }

  sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    this.federation.postOut(this.isolate, this.conn, bytes);
  }
}

/** A request as it crosses: no server token, and the join token or resume secret as a proof. */
function withoutSecrets(
  req: InstanceRequest,
): { frame: Record<string, unknown>; proof?: SecretProof } {
  // deno-lint-ignore no-unused-vars
  const { server_token, ...rest } = req as Record<string, unknown>;
  if (req.type === "join_instance") {
    delete rest.token;
    return { frame: rest, proof: proveSecret(req.token) };
  }
  if (req.type === "resume_instance") {
    rest.resume = "";
    return { frame: rest, proof: proveSecret(req.resume) };
  }
  return { frame: rest };
}

/** Requests whose answer this isolate waits for (and times out). */
function needsAnswer(req: InstanceRequest): boolean {
  return req.type === "join_instance" || req.type === "resume_instance" || req.ref !== undefined;
}

// deno-lint-ignore no-explicit-any
function answers(req: InstanceRequest, frame: Record<string, any>): boolean {
  // Relayed data always carries `from` (and may carry its sender's own `ref`): never an answer.
  if (frame.from !== undefined) return false;
  if (req.ref !== undefined) return frame.ref === req.ref;
  if (req.type === "join_instance") return frame.type === "ack" && frame.uuid === req.uuid;
  if (req.type === "resume_instance") {
    return (frame.type === "instance_resumed" || frame.type === "error") && frame.uuid === req.uuid;
  }
  return false;
}

function publicInfo(record: InstanceRecord): InstanceInfo {
  const { owner: _owner, ...info } = record;
  return info;
}
