/**
 * The cluster on the isolate where a socket lives: what that socket is part of on other isolates,
 * and the requests it is waiting on there.
 *
 * The hub hands over a request or a data frame for an instance that is not here (after its own
 * checks); this side finds the owner (the socket's memberships first, then the directory), posts
 * it, and — for requests that expect an answer — waits at most `timeoutMs` for the owner's
 * `answer`, matched by request id. It learns what the socket belongs to only from the owner's
 * `member` envelopes (joined, hosting, gone), never from the frames it relays, and from that keeps
 * the counts behind `WSTUN_MAX_JOINS` and `WSTUN_MAX_INSTANCES` ({@link SocketSide.counts}).
 *
 * Guarantees: every request that expects an answer gets exactly one (the owner's, or
 * `bridge_timeout` / `unknown_instance` / `bridge_unavailable` from here; a late answer after a
 * time-out is dropped and a late join undone); a socket's close reaches every owner it talked to;
 * when an owner dies, its instances' sockets here get `instance_closed` `host_left`.
 *
 * Observed: each awaited request is an OpenTelemetry span `wstun.bridge.<request type>` from the
 * moment it waits to its end (the owner's answer, a refusal from here, `bridge_timeout`, the
 * socket's close), and an answer from the owner adds its round trip to
 * `wstun.bridge.round_trip`. A keyed create's directory claim is a span `wstun.directory.claim`
 * and counted with its conflicts; an adoption is counted. Every refusal from here is counted by
 * its error code.
 *
 * @module
 */
import { ulid } from "ulid";
import type { Directory, InstanceRecord } from "../bridge/directory.ts";
import type { InstanceSecrets } from "../hub/instance_secrets.ts";
import type { Session } from "../hub/peer.ts";
import type { Logger } from "../log.ts";
import { type SpanEnd, startSpan } from "../telemetry/spans.ts";
import type { BridgeCounters } from "../stats.ts";
import { randomSecret, secretEquals } from "../secret.ts";
import {
  CloseReason,
  type CreateInstance,
  ErrorCode,
  type InstanceRequest,
  type Ref,
  RETRY_AFTER_MS,
} from "../protocol.ts";
import type { Body, ForwardedRequest, Role, SecretProof } from "./envelope.ts";
import { place, type Placement } from "./placement.ts";
import { proveSecret } from "./secret_proof.ts";
import { gapFrame } from "./gap_error.ts";
import { errorFrame, failedAck } from "../errors/error_edges.ts";
import { WstunError } from "../errors/wstun_error.ts";

export interface SocketSideDeps {
  isolate: string;
  post(isolate: string, body: Body): void;
  directory: Pick<Directory, "find" | "claim" | "remove" | "adopt" | "markMoving">;
  secrets: InstanceSecrets;
  timeoutMs: number;
  /** `WSTUN_HOST_GRACE_MS`: how long an instance whose owner drained or died waits for its host. */
  graceMs: number;
  /** No other isolate can be alive (no bridge): every other owner in the store is gone. */
  alone: boolean;
  now: () => number;
  /**
   * Makes `session` the host of an adopted instance here and answers its resume; `returning`:
   * the members it had before it moved (they rejoin).
   */
  adoptHere(session: Session, record: InstanceRecord, returning: number, ref: Ref): void;
  /**
   * Tells a socket here that an instance it is part of moves (`instance_moving`); its frames for
   * it are refused `moving` until it comes back (lib/hub/moving.ts).
   */
  moving(session: Session, uuid: string): void;
  /** Tells every other isolate that instance `uuid` was adopted here (`adopted`). */
  announceAdoption(uuid: string): void;
  /** Whether instance `uuid` is on this isolate now. */
  isHere(uuid: string): boolean;
  /**
   * Runs a request on this isolate after all (its instance arrived here while the directory was
   * asked): `verified`, a keyed take-over whose key was checked here.
   */
  runHere(session: Session, req: InstanceRequest, verified: boolean): void;
  /** Counts a refusal sent from here, by its error code (the hub's `errors`). */
  refused(code: string): void;
  /** A request timed out waiting for its owner. */
  timedOut(): void;
  /** Round trips, directory claims and adoptions (the server's `Stats.bridge`). */
  counters: BridgeCounters;
  log: Logger;
}

/** An instance a local socket is part of on another isolate. */
interface Away {
  owner: string;
  role: Exclude<Role, "none" | "moving">;
}

/** A forwarded request waiting for its answer. */
interface Pending {
  req: InstanceRequest;
  /** A keyed take-over: the key was checked here, no proof goes with it. */
  verified: boolean;
  /** Unknown while the directory is asked. */
  owner: string | undefined;
  timer: ReturnType<typeof setTimeout>;
  /** `performance.now()` when it began to wait. */
  began: number;
  /** Ends its span. */
  end: SpanEnd;
  /** A join's new member secret, kept here: the owner gets its verifier, the `ack` gets it. */
  memberSecret?: string;
}

/** One local socket that has dealt with other isolates. */
interface LocalSocket {
  readonly session: Session;
  readonly conn: string;
  readonly away: Map<string, Away>;
  readonly pending: Map<number, Pending>;
  /** Requests answered by a time-out here; the owner's late answer is dropped. */
  readonly timedOut: Set<number>;
  /** Every owner this socket sent anything to: told when it closes. */
  readonly contacted: Set<string>;
  nextId: number;
}

export class SocketSide {
  readonly #deps: SocketSideDeps;
  readonly #bySession = new WeakMap<Session, LocalSocket>();
  readonly #byConn = new Map<string, LocalSocket>();
  /**
   * Instances this isolate is adopting (the directory write is on its way): requests for them
   * wait here until the instance is in the hub, instead of finding "ours, but not in memory".
   */
  readonly #adopting = new Map<string, (() => void)[]>();

  constructor(deps: SocketSideDeps) {
    this.#deps = deps;
  }

  /** Instances `session` has joined (joins on their way included) and hosts elsewhere. */
  counts(session: Session): { joined: number; hosted: number } {
    const socket = this.#bySession.get(session);
    if (!socket) return { joined: 0, hosted: 0 };
    let joined = 0, hosted = 0;
    for (const away of socket.away.values()) away.role === "host" ? hosted++ : joined++;
    for (const p of socket.pending.values()) if (p.req.type === "join_instance") joined++;
    return { joined, hosted };
  }

  /**
   * Sends a request to the owner of its instance (the hub has checked what it can here). When the
   * owner drained or died, a resume with the right secret adopts the instance here, and a join
   * is told the host is on its way back (`host_away` with `retryAfterMs`).
   */
  forward(session: Session, req: InstanceRequest, verified = false): void {
    const socket = this.#socket(session);
    const id = socket.nextId++;
    if (expectsAnswer(req)) this.#await(socket, id, req, verified);
    const known = socket.away.get(req.uuid)?.owner;
    if (known) return this.#send(socket, id, req, known, verified);
    this.#route(socket, id, req, verified);
  }

  /** Finds where request `id` goes from the directory, and sends, adopts or refuses it. */
  #route(socket: LocalSocket, id: number, req: InstanceRequest, verified: boolean): void {
    const awaited = socket.pending.has(id);
    this.#deps.directory.find(req.uuid).then((found) => {
      if (!this.#byConn.has(socket.conn)) return; // the socket closed meanwhile
      if (awaited && !socket.pending.has(id)) return; // answered by a time-out meanwhile
      if (found?.record.owner === this.#deps.isolate) {
        return this.#arrivedHere(socket, id, req, verified);
      }
      const placement = this.#place(found);
      if (placement.kind === "owner") {
        return this.#send(socket, id, req, placement.owner, verified);
      }
      if (placement.kind === "gone") {
        return this.#fail(socket, id, ErrorCode.UnknownInstance, `no instance ${req.uuid}`, req);
      }
      if (req.type === "resume_instance") return this.#adopt(socket, id, req, placement.record);
      if (req.type === "join_instance" && !this.#joinTokenFits(req, placement.record)) {
        // Checked now, as the owner would: a wrong password is not worth waiting for the host.
        return this.#fail(
          socket,
          id,
          ErrorCode.Unauthorized,
          "wrong or missing instance token",
          req,
        );
      }
      this.#fail(socket, id, ErrorCode.HostAway, "the instance is moving; try again", req);
    }, (err) => {
      this.#fail(socket, id, ErrorCode.BridgeUnavailable, `instance directory: ${err}`, req);
    });
  }

  /**
   * The directory says this isolate owns the instance the request is for: it is being adopted
   * here (the request waits for that), it arrived while the directory was asked (the request runs
   * here), or it ended a moment ago.
   */
  #arrivedHere(socket: LocalSocket, id: number, req: InstanceRequest, verified: boolean): void {
    const { uuid } = req;
    const waiting = this.#adopting.get(uuid);
    if (waiting) {
      waiting.push(() => this.#arrivedHere(socket, id, req, verified));
      return;
    }
    if (!this.#byConn.has(socket.conn)) return;
    if (!this.#deps.isHere(uuid)) {
      return this.#fail(socket, id, ErrorCode.UnknownInstance, `no instance ${uuid}`, req);
    }
    if (expectsAnswer(req) && !this.#finish(socket, id, undefined)) return; // timed out
    this.#deps.runHere(socket.session, req, verified);
  }

  /** Where a request goes; starts the grace of a dead owner's instance the first time. */
  #place(found: Parameters<typeof place>[0]): Placement {
    const placement = place(found, {
      isolate: this.#deps.isolate,
      alone: this.#deps.alone,
      graceMs: this.#deps.graceMs,
      now: this.#deps.now(),
    });
    const { directory } = this.#deps;
    if (placement.kind === "moving" && !placement.marked) {
      const { owner, uuid } = placement.record;
      directory.markMoving(owner, placement.since, [uuid]).catch((err) =>
        this.#deps.log.warn("directory.write_failed", {
          operation: "mark_moving",
          uuid,
          error: String(err),
        })
      );
    }
    if (placement.kind === "gone" && placement.expired && found) {
      directory.remove(found.record.uuid).catch(() => {});
    }
    return placement;
  }

  /** Whether a join's token matches the verifier in a moving instance's record. */
  #joinTokenFits(req: Extract<InstanceRequest, { type: "join_instance" }>, record: InstanceRecord) {
    if (record.tokenVerifier === undefined) return true;
    if (req.token === undefined) return false;
    return secretEquals(
      this.#deps.secrets.tokenVerifier(req.uuid, req.token),
      record.tokenVerifier,
    );
  }

  /** A host's resume of an instance whose owner is gone: checked, then taken over here. */
  #adopt(
    socket: LocalSocket,
    id: number,
    req: Extract<InstanceRequest, { type: "resume_instance" }>,
    record: InstanceRecord,
  ): void {
    const { secrets, directory, isolate } = this.#deps;
    const presented = secrets.resumeVerifier(req.uuid, req.resume);
    if (!record.resumeVerifier || !secretEquals(presented, record.resumeVerifier)) {
      return this.#fail(socket, id, ErrorCode.Unauthorized, "wrong resume secret", req);
    }
    const adopted: InstanceRecord = { ...record, owner: isolate, members: 0 };
    delete adopted.moving;
    if (this.#adopting.has(req.uuid)) {
      // Another socket's resume is adopting it here already: this one follows it.
      this.#adopting.get(req.uuid)!.push(() => this.#arrivedHere(socket, id, req, false));
      return;
    }
    this.#adopting.set(req.uuid, []);
    directory.adopt(adopted, record.owner).then((won) => {
      try {
        this.#adopted(socket, id, req, won ? adopted : undefined, record.members);
      } finally {
        this.#adoptionSettled(req.uuid);
      }
    }, (err) => {
      this.#adoptionSettled(req.uuid);
      this.#fail(socket, id, ErrorCode.BridgeUnavailable, `instance directory: ${err}`, req);
    });
  }

  /** The directory answered an adoption: `adopted` is the record when this isolate won it. */
  #adopted(
    socket: LocalSocket,
    id: number,
    req: Extract<InstanceRequest, { type: "resume_instance" }>,
    adopted: InstanceRecord | undefined,
    returning: number,
  ): void {
    if (!this.#byConn.has(socket.conn)) return;
    const adoption = adopted ? "here" : "elsewhere";
    if (!this.#finish(socket, id, undefined, { "wstun.adopted": adoption })) return;
    // Another isolate adopted it first: resume it there.
    if (!adopted) return this.forward(socket.session, req);
    this.#deps.counters.adoptions++;
    socket.away.delete(req.uuid);
    this.movedTo(req.uuid, this.#deps.isolate);
    this.#deps.announceAdoption(req.uuid);
    this.#deps.adoptHere(socket.session, adopted, returning, req.ref);
  }

  /**
   * Instance `uuid` was adopted by `owner`: sockets here still taking part in it through its
   * former owner (a crash is not known everywhere at once) follow it now, instead of posting
   * frames to an isolate that is gone.
   */
  movedTo(uuid: string, owner: string): void {
    for (const socket of this.#byConn.values()) {
      const away = socket.away.get(uuid);
      if (!away || away.owner === owner) continue;
      socket.away.delete(uuid);
      this.#deps.moving(socket.session, uuid);
    }
  }

  /** Runs `run` once the adoption of `uuid` under way here is settled; at once when none is. */
  afterAdoption(uuid: string, run: () => void): void {
    const waiting = this.#adopting.get(uuid);
    if (waiting) waiting.push(run);
    else run();
  }

  /** Lets the requests that waited for an adoption go on: to the instance here, or on. */
  #adoptionSettled(uuid: string): void {
    const waiting = this.#adopting.get(uuid) ?? [];
    this.#adopting.delete(uuid);
    for (const resume of waiting) resume();
  }

  /**
   * Ends the wait for request `id`: its timer, and its span with `error` (undefined: it
   * succeeded). Undefined when it is no longer waited for.
   */
  #finish(
    socket: LocalSocket,
    id: number,
    error: string | undefined,
    attributes: Record<string, string> = {},
  ): Pending | undefined {
    const pending = socket.pending.get(id);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    socket.pending.delete(id);
    if (pending.owner) attributes["wstun.owner"] = pending.owner;
    pending.end(error, attributes);
    return pending;
  }

  /**
   * `create_instance` with a key whose instance is not here: the uuid is claimed in the directory
   * first, atomically, so of two isolates creating one key at once one creates it (`createHere`)
   * and the other takes that instance over on its owner (the key was verified here: it is the
   * preimage of `uuid`).
   */
  createKeyed(
    session: Session,
    req: CreateInstance,
    uuid: string,
    createHere: () => boolean,
  ): void {
    const takeOver: InstanceRequest = { type: "resume_instance", uuid, resume: "", ref: req.ref };
    const provisional: InstanceRecord = {
      uuid,
      name: req.name,
      service: req.service,
      protected: Boolean(req.token),
      members: 0,
      createdAt: new Date(this.#deps.now()).toISOString(),
      owner: this.#deps.isolate,
    };
    const { counters } = this.#deps;
    counters.claims++;
    const end = startSpan("wstun.directory.claim", { "wstun.instance": uuid });
    this.#deps.directory.claim(provisional).then((holder) => {
      if (!holder) {
        end(undefined, { "wstun.claim": "won" });
        if (!createHere()) this.#unclaim(uuid);
        return;
      }
      counters.claimConflicts++;
      end(undefined, { "wstun.claim": "held", "wstun.owner": holder.owner });
      this.forward(session, takeOver, true);
    }, (err) => {
      end(ErrorCode.BridgeUnavailable);
      this.#refuse(session, takeOver, ErrorCode.BridgeUnavailable, `instance directory: ${err}`);
    });
  }

  /** A data frame for an instance elsewhere: to its owner if the socket is part of it. */
  forwardData(
    session: Session,
    uuid: string,
    text: string,
    to: string | string[] | undefined,
    ref: Ref,
  ): void {
    const socket = this.#bySession.get(session);
    const owner = socket?.away.get(uuid)?.owner;
    if (socket && owner) {
      return this.#deps.post(owner, { k: "data", conn: socket.conn, uuid, text, to, ref });
    }
    this.#notHere(session, uuid, ref);
  }

  /** A binary frame for an instance elsewhere. */
  forwardBinary(session: Session, uuid: string, bytes: Uint8Array<ArrayBuffer>): void {
    const socket = this.#bySession.get(session);
    const owner = socket?.away.get(uuid)?.owner;
    if (socket && owner) {
      return this.#deps.post(owner, { k: "bin", conn: socket.conn, uuid, bytes });
    }
    this.#notHere(session, uuid, undefined);
  }

  /**
   * The owner's direct answer to request `id` of a socket here; `refused` is its error code when
   * it refuses the request.
   */
  answer(conn: string, id: number, text: string, refused?: string): void {
    const socket = this.#byConn.get(conn);
    if (!socket) return; // closed meanwhile; its detach is on the way to the owner
    const pending = this.#finish(socket, id, refused);
    if (pending) {
      this.#deps.counters.roundTrip.observe((performance.now() - pending.began) / 1000);
    } else if (socket.timedOut.delete(id)) {
      return; // answered `bridge_timeout` already
    }
    const secret = refused === undefined ? pending?.memberSecret : undefined;
    socket.session.peer.sendText(secret === undefined ? text : withResume(text, secret));
  }

  /**
   * The owner says what a socket here now is in one of its instances (`moving`: the instance
   * moved away from it, and the socket follows, unless it already does).
   */
  membership(owner: string, conn: string, uuid: string, role: Role): void {
    const socket = this.#byConn.get(conn);
    if (!socket) return;
    if (role === "moving") {
      if (socket.away.get(uuid)?.owner !== owner) return;
      socket.away.delete(uuid);
      return this.#deps.moving(socket.session, uuid);
    }
    if (role === "none") socket.away.delete(uuid);
    else socket.away.set(uuid, { owner, role });
  }

  /** Frames from an owner for sockets here. */
  out(conns: readonly string[], frame: string | Uint8Array<ArrayBuffer>): void {
    for (const conn of conns) {
      const peer = this.#byConn.get(conn)?.session.peer;
      if (!peer) continue;
      if (typeof frame === "string") peer.sendText(frame);
      else peer.sendBinary(frame);
    }
  }

  /** A local socket closed: every owner it dealt with hears of it. */
  detached(session: Session): void {
    const socket = this.#bySession.get(session);
    if (!socket) return;
    const owners = new Set(socket.contacted);
    for (const [id, p] of [...socket.pending]) {
      if (p.owner) owners.add(p.owner);
      this.#finish(socket, id, "socket_closed");
    }
    for (const owner of owners) this.#deps.post(owner, { k: "detach", conn: socket.conn });
    this.#byConn.delete(socket.conn);
    this.#bySession.delete(session);
  }

  /**
   * An isolate drained, died or left: sockets here in its instances are told they move (`moving`:
   * the host resumes, members rejoin, another isolate adopts it or its grace runs out) or that
   * they ended (it shut down for good); requests to it fail.
   */
  isolateGone(isolate: string, moving: boolean): void {
    for (const socket of this.#byConn.values()) {
      for (const [uuid, away] of [...socket.away]) {
        if (away.owner !== isolate) continue;
        socket.away.delete(uuid);
        if (moving) this.#deps.moving(socket.session, uuid);
        else socket.session.send({ type: "instance_closed", uuid, reason: CloseReason.HostLeft });
      }
      for (const [id, p] of [...socket.pending]) {
        if (p.owner !== isolate) continue;
        // A moving instance may be adopted (this very request may adopt it): route it again.
        if (moving) {
          p.owner = undefined;
          this.#route(socket, id, p.req, p.verified);
        } else {
          this.#fail(socket, id, ErrorCode.UnknownInstance, `the owner of ${p.req.uuid} is gone`);
        }
      }
      socket.contacted.delete(isolate);
    }
  }

  /** Sockets here that are members of instances elsewhere, by owner (for a drain's holds). */
  membersByOwner(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const socket of this.#byConn.values()) {
      const owners = new Set<string>();
      for (const away of socket.away.values()) if (away.role === "member") owners.add(away.owner);
      for (const owner of owners) {
        const conns = out.get(owner);
        if (conns) conns.push(socket.conn);
        else out.set(owner, [socket.conn]);
      }
    }
    return out;
  }

  /** Tells sockets here that are part of `owner`'s instances that bridge messages were lost. */
  reportGap(owner: string, lost: number): void {
    for (const socket of this.#byConn.values()) {
      for (const [uuid, away] of socket.away) {
        if (away.owner === owner) socket.session.send(gapFrame(uuid, lost));
      }
    }
  }

  /** Isolates that own instances sockets here are part of, or wait on. */
  peerIsolates(into: Set<string>): void {
    for (const socket of this.#byConn.values()) {
      for (const away of socket.away.values()) into.add(away.owner);
      for (const p of socket.pending.values()) if (p.owner) into.add(p.owner);
    }
  }

  /** Stops the time-outs (shutdown). */
  stop(): void {
    for (const socket of this.#byConn.values()) {
      for (const id of [...socket.pending.keys()]) this.#finish(socket, id, "shutdown");
    }
  }

  #socket(session: Session): LocalSocket {
    let socket = this.#bySession.get(session);
    if (!socket) {
      socket = {
        session,
        conn: ulid(),
        away: new Map(),
        pending: new Map(),
        timedOut: new Set(),
        contacted: new Set(),
        nextId: 1,
      };
      this.#bySession.set(session, socket);
      this.#byConn.set(socket.conn, socket);
    }
    return socket;
  }

  #await(socket: LocalSocket, id: number, req: InstanceRequest, verified: boolean): Pending {
    const pending: Pending = {
      req,
      verified,
      owner: undefined,
      timer: setTimeout(() => this.#timedOut(socket, id), this.#deps.timeoutMs),
      began: performance.now(),
      end: startSpan(`wstun.bridge.${req.type}`, { "wstun.instance": req.uuid }),
    };
    socket.pending.set(id, pending);
    return pending;
  }

  #send(
    socket: LocalSocket,
    id: number,
    req: InstanceRequest,
    owner: string,
    verified: boolean,
  ): void {
    const pending = socket.pending.get(id);
    if (pending) pending.owner = owner;
    socket.contacted.add(owner);
    const { secrets } = this.#deps;
    const { frame, proof, rejoinProof } = verified
      ? { frame: blank(req), proof: undefined }
      : forwarded(req, secrets);
    let memberVerifier: string | undefined;
    if (req.type === "join_instance" && pending) {
      pending.memberSecret = randomSecret();
      memberVerifier = secrets.memberVerifier(req.uuid, pending.memberSecret);
    }
    this.#deps.post(owner, {
      k: "req",
      conn: socket.conn,
      id,
      frame,
      proof,
      rejoinProof,
      memberVerifier,
      verified: verified || undefined,
    });
  }

  #timedOut(socket: LocalSocket, id: number): void {
    const pending = this.#finish(socket, id, ErrorCode.BridgeTimeout);
    if (!pending) return;
    socket.timedOut.add(id);
    this.#deps.timedOut();
    const { req, owner } = pending;
    const message = `the isolate that owns ${req.uuid} did not answer within ` +
      `${this.#deps.timeoutMs} ms`;
    this.#refuse(socket.session, req, ErrorCode.BridgeTimeout, message);
    // The owner may still act on it later: undo a join so no one is left half-joined.
    if (req.type === "join_instance" && owner) {
      this.#deps.post(owner, { k: "undo", conn: socket.conn, uuid: req.uuid });
    }
  }

  /** Ends request `id` here with a refusal (or, for one not awaited, refuses `req`). */
  #fail(
    socket: LocalSocket,
    id: number,
    code: ErrorCode,
    message: string,
    req?: InstanceRequest,
  ): void {
    const pending = this.#finish(socket, id, code);
    const failed = pending?.req ?? req;
    if (failed) this.#refuse(socket.session, failed, code, message);
  }

  /** A refusal from here: a failed ack for a join, an error for the rest. */
  #refuse(session: Session, req: InstanceRequest, code: ErrorCode, message: string): void {
    this.#deps.refused(code);
    const retryAfterMs = code === ErrorCode.HostAway ? RETRY_AFTER_MS : undefined;
    const err = new WstunError(code, message, { uuid: req.uuid, retryAfterMs });
    session.send(
      req.type === "join_instance" ? failedAck(err, req.uuid, req.ref) : errorFrame(err, req.ref),
    );
  }

  /** A data frame for an instance elsewhere that the socket is not part of. */
  #notHere(session: Session, uuid: string, ref: Ref): void {
    const refuse = (code: ErrorCode, message: string) => {
      this.#deps.refused(code);
      session.send(errorFrame(new WstunError(code, message, { uuid }), ref));
    };
    this.#deps.directory.find(uuid).then(
      (found) =>
        this.#place(found).kind === "gone"
          ? refuse(ErrorCode.UnknownInstance, `no instance ${uuid}`)
          : refuse(ErrorCode.NotMember, `not the host or a member of ${uuid}`),
      (err) => refuse(ErrorCode.BridgeUnavailable, `instance directory: ${err}`),
    );
  }

  /** Removes a claim whose create was refused after all, unless another isolate holds it now. */
  #unclaim(uuid: string): void {
    this.#deps.directory.find(uuid).then((found) => {
      if (found?.record.owner === this.#deps.isolate) return this.#deps.directory.remove(uuid);
    }).catch((err) =>
      this.#deps.log.warn("directory.write_failed", {
        operation: "unclaim",
        uuid,
        error: String(err),
      })
    );
  }
}

/** A join's `ack` (JSON text from the owner) with the member's secret, made here, added. */
function withResume(ack: string, secret: string): string {
  return `${ack.slice(0, -1)},"resume":${JSON.stringify(secret)}}`;
}

/** Requests whose answer the socket's isolate waits for (and times out). */
function expectsAnswer(req: InstanceRequest): boolean {
  return req.type === "join_instance" || req.type === "resume_instance" || req.ref !== undefined;
}

/**
 * A request as it crosses: no server token; the join token, the resume secret and a rejoining
 * member's own secret as proofs over their verifiers, which are what the owner holds.
 */
function forwarded(
  req: InstanceRequest,
  secrets: InstanceSecrets,
): { frame: ForwardedRequest; proof?: SecretProof; rejoinProof?: SecretProof } {
  if (req.type === "join_instance") {
    const { uuid, token, resume } = req;
    const verifier = token === undefined ? undefined : secrets.tokenVerifier(uuid, token);
    const rejoinProof = resume === undefined
      ? undefined
      : proveSecret(secrets.memberVerifier(uuid, resume));
    return { frame: blank(req), proof: proveSecret(verifier), rejoinProof };
  }
  if (req.type === "resume_instance") {
    return { frame: blank(req), proof: proveSecret(secrets.resumeVerifier(req.uuid, req.resume)) };
  }
  return { frame: req };
}

/** `req` without its secrets (a verified take-over carries none: the key was checked here). */
function blank(req: InstanceRequest): ForwardedRequest {
  if (req.type === "join_instance") {
    const { token: _token, server_token: _server, resume: _resume, ...rest } = req;
    return rest;
  }
  if (req.type === "resume_instance") return { ...req, resume: "" };
  return req;
}
