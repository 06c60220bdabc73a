/**
 * One isolate's part in the cluster: several isolates' hubs behaving as one. It composes the
 * parts, each small and testable alone with an in-process bridge:
 *
 * - {@link SocketSide}: sockets here that take part in instances elsewhere;
 * - {@link OwnerSide}: sockets elsewhere that take part in instances here;
 * - {@link Records} and {@link Liveness}: the directory's records, heartbeats, dead isolates;
 * - {@link Links}: per-link order and loss;
 * - {@link SnapshotRequests}: other isolates' instruments, for a worker's `/metrics`.
 *
 * It implements what the hub asks of other isolates ({@link ClusterPort}), is handed the hub's
 * {@link HubPort} for what arrives from them, and parses every envelope once on receipt
 * (lib/cluster/envelope.ts) before dispatching on its kind. Channel publishes (pub/sub) and
 * tunnel relays ride on the same links.
 *
 * Guarantees: per-sender order within an instance (a link carries one sender isolate's frames
 * to one receiver in order); loss is reported (`bridge_gap`), never silent; requests that expect
 * an answer get one within `timeoutMs`; secrets cross only as proofs; a dead isolate is noticed
 * within four heartbeats, one that leaves (`bye`) at once.
 *
 * Observed: what the cluster notices is logged through the server's logger (`bridge.gap`,
 * `bridge.isolate_gone`, `bridge.invalid_envelope`, `bridge.silent`, `directory.write_failed`…;
 * docs/operations.md), its counters are the server's (`Stats.bridge`), and its state feeds
 * readiness ({@link ClusterNode.health}, {@link ClusterNode.directoryState}).
 *
 * @module
 */
import { ulid } from "ulid";
import type { Bridge } from "../bridge/bridge.ts";
import { type Directory, publicInfo } from "../bridge/directory.ts";
import type { InstanceSecrets } from "../hub/instance_secrets.ts";
import type { ClusterPort } from "../hub/cluster_port.ts";
import type { Instance } from "../hub/instance.ts";
import type { Session } from "../hub/peer.ts";
import type { Logger } from "../log.ts";
import type { IsolateSnapshot } from "../telemetry/snapshot_schema.ts";
import {
  type CreateInstance,
  ErrorCode,
  type InstanceInfo,
  type InstanceRequest,
  type Ref,
} from "../protocol.ts";
import { WstunError } from "../errors/wstun_error.ts";
import type { ChannelMessage } from "../pubsub/channel_message.ts";
import { BridgeCounters } from "../stats.ts";
import { ClusterStats } from "./cluster_stats.ts";
import {
  type Body,
  type Envelope,
  parseEnvelope,
  type Role,
  type TunnelRelay,
} from "./envelope.ts";
import type { HubPort } from "./hub_port.ts";
import { type DirectoryState, type IsolateHealth, Liveness } from "./liveness.ts";
import { Links } from "./link.ts";
import { HOLD_WAIT_MS, MemberHolds } from "./member_hold.ts";
import { ByeAnswers } from "./bye_answers.ts";

/**
 * How long a drained isolate may still be heard from after its `bye`: its wait for `bye_seen`
 * (at most {@link HOLD_WAIT_MS}), then its sockets' close (at most a second), with a margin.
 */
const LEAVING_MS = 3 * HOLD_WAIT_MS;
import { OwnerSide } from "./owner_side.ts";
import { Records } from "./records.ts";
import { type CollectedSnapshots, SnapshotRequests } from "./snapshot_requests.ts";
import { SocketSide } from "./socket_side.ts";
import { pack, unpack } from "./wire.ts";

/** The sequence-number link of an isolate's broadcasts. */
const BROADCAST_LINK = "*";

export interface ClusterOptions {
  bridge: Bridge;
  directory: Directory;
  /** How often this isolate proves it is alive and checks the isolates it talks to. */
  heartbeatMs: number;
  /** How long a forwarded request waits for its owner. */
  timeoutMs: number;
  /** This isolate's id; a fresh ulid by default. */
  isolate?: string;
  now?: () => number;
  /** Counts refusals sent from the cluster with the hub's, by error code (`errors`). */
  refused?: (code: string) => void;
  /** Round trips, directory claims, adoptions: the server's `Stats.bridge`; fresh by default. */
  counters?: BridgeCounters;
  /** Where cluster events go (gaps, dead or silent isolates, the directory failing). */
  log: Logger;
  /** Verifiers of instance secrets (what records carry) and keyed ids. */
  secrets: InstanceSecrets;
  /** `WSTUN_HOST_GRACE_MS`: how long an instance whose owner drained or died waits for its host. */
  graceMs: number;
  /** No other isolate can be alive (the bridge reaches no one: one server on its KV file). */
  alone?: boolean;
}

/** The hub as the cluster sees it: the port it is handed, and how to join it. */
export interface ClusterHub extends HubPort {
  joinCluster(cluster: ClusterPort): void;
}

export class ClusterNode implements ClusterPort {
  readonly isolate: string;
  readonly stats = new ClusterStats();
  readonly #opts: ClusterOptions;
  readonly #hub: ClusterHub;
  readonly #links: Links<Envelope>;
  readonly #socketSide: SocketSide;
  readonly #ownerSide: OwnerSide;
  readonly #records: Records;
  readonly #liveness: Liveness;
  readonly #snapshots: SnapshotRequests;
  readonly #memberHolds: MemberHolds;
  readonly #byes: ByeAnswers;
  /** The rest of drained isolates' leaving, after their `bye` (see #isolateLeft). */
  readonly #forgetting = new Set<ReturnType<typeof setTimeout>>();
  /**
   * Isolates that drained (said `bye` moving). Ids are never reused; like the link numbers,
   * what is kept is one string per isolate ever seen leaving.
   */
  readonly #departed = new Set<string>();
  readonly #log: Logger;
  #channelDeliver: ((message: ChannelMessage) => void) | null = null;
  #tunnelDeliver: ((from: string, m: TunnelRelay) => void) | null = null;
  #stopped = false;
  readonly #now: () => number;

  private constructor(hub: ClusterHub, opts: ClusterOptions) {
    this.#hub = hub;
    this.#opts = opts;
    this.isolate = opts.isolate ?? ulid();
    const now = opts.now ?? Date.now;
    this.#now = now;
    const log = opts.log;
    this.#log = log;
    const post = (isolate: string, body: Body) => this.#post(isolate, body);
    this.#links = new Links(opts.bridge.redelivers ? opts.timeoutMs : 0, {
      deliver: (from, envelope) => this.#dispatch(from, envelope.body),
      gap: (from, lost, link) => this.#gap(from, lost, link !== from),
    });
    this.#socketSide = new SocketSide({
      isolate: this.isolate,
      post,
      directory: opts.directory,
      secrets: opts.secrets,
      timeoutMs: opts.timeoutMs,
      graceMs: opts.graceMs,
      alone: opts.alone ?? false,
      now,
      adoptHere: (session, record, returning, ref) =>
        hub.adoptHere(session, record, returning, ref),
      moving: (session, uuid) => hub.moving(session, uuid),
      announceAdoption: (uuid) => this.#broadcast({ k: "adopted", uuid }),
      isHere: (uuid) => hub.instances.has(uuid),
      runHere: (session, req, verified) =>
        hub.controlHere(session, req, verified ? { check: () => true } : undefined),
      refused: opts.refused ?? (() => {}),
      timedOut: () => this.stats.timedOut++,
      counters: opts.counters ?? new BridgeCounters(),
      log,
    });
    this.#ownerSide = new OwnerSide({
      hub,
      post,
      afterAdoption: (uuid, run) => this.#socketSide.afterAdoption(uuid, run),
    });
    this.#records = new Records({
      isolate: this.isolate,
      directory: opts.directory,
      now,
      instances: () => hub.instances.values(),
      lost: (uuids) => uuids.forEach((uuid) => hub.movedAway(uuid)),
      log,
    });
    this.#liveness = new Liveness({
      isolate: this.isolate,
      directory: opts.directory,
      heartbeatMs: opts.heartbeatMs,
      now,
      records: this.#records,
      peers: () => this.#peerIsolates(),
      gone: (isolate) => this.#isolateDied(isolate),
      announce: () => this.#broadcast({ k: "beat" }),
      log,
    });
    this.#memberHolds = new MemberHolds(post, log);
    this.#byes = new ByeAnswers((body) => this.#broadcast(body), log);
    this.#snapshots = new SnapshotRequests({
      post,
      broadcast: (body) => this.#broadcast(body),
      expected: () => this.#liveness.recentlyHeard(),
    });
  }

  /** Joins the cluster: listens on the bridge, beats once, then every heartbeat. */
  static async start(hub: ClusterHub, opts: ClusterOptions): Promise<ClusterNode> {
    const node = new ClusterNode(hub, opts);
    opts.bridge.listen(node.isolate, (raw) => node.#receive(raw));
    await node.#liveness.start();
    hub.joinCluster(node);
    return node;
  }

  /**
   * Hands this isolate's instances over (a drain): their records stay in the directory, marked
   * moving from now, for another isolate (or this server restarted) to adopt when their hosts
   * resume; every other isolate is told at once (`bye`), so their sockets in these instances
   * follow them (`instance_moving`). First, the owners of instances this isolate's sockets are
   * members of are asked to hold those memberships for their rejoin elsewhere, and their answers
   * waited for (lib/cluster/member_hold.ts): at most {@link HOLD_WAIT_MS}, and at most half of
   * what is left before `deadline` (ms since the epoch). Call {@link stop} after the sockets are
   * closed.
   */
  async drain(deadline?: number): Promise<void> {
    await this.#memberHolds.ask(this.#socketSide.membersByOwner(), this.#handshakeMs(deadline));
    await this.#records.stop();
    const uuids = [...this.#hub.instances.keys()];
    try {
      await this.#opts.directory.markMoving(this.isolate, this.#now(), uuids);
    } catch (err) {
      this.#log.warn("directory.write_failed", {
        operation: "hand_over",
        instances: uuids.length,
        error: String(err),
      });
    }
    const peers = new Set<string>();
    this.#ownerSide.peerIsolates(peers);
    await this.#byes.bye(peers, this.#handshakeMs(deadline));
  }

  /** How long one handshake of a drain waits: {@link HOLD_WAIT_MS}, at most half of what is left. */
  #handshakeMs(deadline: number | undefined): number {
    const left = deadline === undefined ? HOLD_WAIT_MS : (deadline - this.#now()) / 2;
    return Math.max(0, Math.min(HOLD_WAIT_MS, left));
  }

  /**
   * Leaves: tells every isolate, removes this isolate's liveness and its records (those not handed
   * over by a {@link drain}), closes the bridge.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#liveness.stop();
    const drained = this.#records.stopped;
    await this.#records.stop();
    if (!drained) this.#broadcast({ k: "bye" });
    this.#socketSide.stop();
    this.#snapshots.stop();
    for (const timer of this.#forgetting) clearTimeout(timer);
    this.#forgetting.clear();
    try {
      const ended = drained ? [] : [...this.#hub.instances.keys()];
      await this.#opts.directory.leave(this.isolate, ended);
    } catch (err) {
      this.#log.warn("directory.write_failed", { operation: "leave", error: String(err) });
    }
    this.#links.close();
    await this.#opts.bridge.close();
    await this.#opts.directory.close();
  }

  /** How long a forwarded request waits for the other isolate. */
  get timeoutMs(): number {
    return this.#opts.timeoutMs;
  }

  /** Every isolate alive in the directory, and whether the bridge hears it. */
  health(): IsolateHealth[] {
    return this.#liveness.health();
  }

  /** Whether the directory answered this isolate's last heartbeat. */
  directoryState(): DirectoryState {
    return this.#liveness.directoryState();
  }

  // ---- ClusterPort (asked by the hub) ----

  published(instance: Instance): Promise<void> {
    return this.#records.published(instance);
  }

  changed(instance: Instance): void {
    this.#records.changed(instance);
  }

  removed(uuid: string): void {
    this.#records.removed(uuid);
  }

  forward(session: Session, req: InstanceRequest): void {
    this.#socketSide.forward(session, req);
  }

  forwardData(
    session: Session,
    uuid: string,
    text: string,
    to: string | string[] | undefined,
    ref: Ref,
  ): void {
    this.#socketSide.forwardData(session, uuid, text, to, ref);
  }

  forwardBinary(session: Session, uuid: string, bytes: Uint8Array<ArrayBuffer>): void {
    this.#socketSide.forwardBinary(session, uuid, bytes);
  }

  createKeyed(
    session: Session,
    req: CreateInstance,
    uuid: string,
    createHere: () => boolean,
  ): void {
    this.#socketSide.createKeyed(session, req, uuid, createHere);
  }

  /**
   * Every isolate's instances: those of live owners, and those waiting to be adopted within their
   * grace (a record of a dead owner starts its grace when first seen; one past it is removed).
   */
  async list(service?: string): Promise<InstanceInfo[]> {
    const found = await this.#opts.directory.list().catch((err) => {
      throw new WstunError(ErrorCode.BridgeUnavailable, `other isolates unreachable: ${err}`);
    });
    const now = this.#now();
    const out: InstanceInfo[] = [];
    for (const { record, ownerAlive } of found) {
      if (service !== undefined && record.service !== service) continue;
      // Our own instances: the live count, not the last one written.
      const local = this.#hub.instances.get(record.uuid);
      if (local) {
        out.push(local.info());
        continue;
      }
      if (record.owner === this.isolate) continue;
      const dead = this.#opts.alone || !ownerAlive;
      const since = record.moving ?? (dead ? now : undefined);
      if (since === undefined) {
        out.push(publicInfo(record));
      } else if (now - since <= this.#opts.graceMs) {
        out.push(publicInfo(record));
        if (record.moving === undefined) this.#markMoving(record.owner, since, [record.uuid]);
      } else {
        this.#opts.directory.remove(record.uuid).catch(() => {});
      }
    }
    return out;
  }

  #markMoving(owner: string, since: number, uuids?: string[]): void {
    this.#opts.directory.markMoving(owner, since, uuids).catch((err) => {
      this.#log.warn("directory.write_failed", {
        operation: "mark_moving",
        owner,
        error: String(err),
      });
    });
  }

  membership(session: Session, uuid: string, role: Role): void {
    this.#ownerSide.membership(session, uuid, role);
  }

  isRemote(session: Session): boolean {
    return this.#ownerSide.isRemote(session);
  }

  detached(session: Session): void {
    if (!this.#ownerSide.isRemote(session)) this.#socketSide.detached(session);
  }

  counts(session: Session): { joined: number; hosted: number } {
    return this.#socketSide.counts(session);
  }

  // ---- ports for pub/sub and tunnels ----

  /** Where channel publishes from other isolates are handed to this isolate's registry. */
  onChannelMessage(deliver: (message: ChannelMessage) => void): void {
    this.#channelDeliver = deliver;
  }

  /** Sends a channel publish to every other isolate, numbered on this isolate's broadcast link. */
  publishChannel(message: ChannelMessage): void {
    this.#broadcast({ k: "chpub", message });
  }

  /** Receives tunnel relay messages from other isolates (one receiver). */
  onTunnel(deliver: (from: string, m: TunnelRelay) => void): void {
    this.#tunnelDeliver = deliver;
  }

  /** Posts a tunnel relay message to `isolate`, in order with everything else on that link. */
  postTunnel(isolate: string, m: TunnelRelay): void {
    this.#post(isolate, { k: "tun", m });
  }

  /** Whether `isolate` is alive according to the directory. */
  isolateAlive(isolate: string): Promise<boolean> {
    return this.#liveness.alive(isolate);
  }

  /** Runs `renew` whenever this isolate rewrites its instance records. */
  onRenew(renew: () => Promise<void>): void {
    this.#records.onRenew(renew);
  }

  // ---- the instruments of other isolates ----

  /** Answers other isolates' requests for this isolate's instruments with `snapshot()`. */
  onSnapshotRequest(snapshot: () => IsolateSnapshot): void {
    this.#snapshots.answerWith(snapshot);
  }

  /**
   * Every other isolate's instruments: asks the isolates heard on the bridge within three
   * heartbeats, waits for them at most `timeoutMs`; those that did not answer are `missing`.
   */
  collectSnapshots(timeoutMs: number): Promise<CollectedSnapshots> {
    return this.#snapshots.collect(timeoutMs);
  }

  // ---- the bridge ----

  #post(isolate: string, body: Body): void {
    this.stats.sent++;
    this.stats.sentByKind[body.k]++;
    const seq = this.#links.next(isolate);
    this.#opts.bridge.post(isolate, pack({ from: this.isolate, seq, body }));
  }

  #broadcast(body: Body): void {
    this.stats.sent++;
    this.stats.sentByKind[body.k]++;
    const seq = this.#links.next(BROADCAST_LINK);
    this.#opts.bridge.broadcast(pack({ from: this.isolate, seq, body, all: true }));
  }

  #receive(raw: unknown): void {
    const unpacked = unpack(raw);
    // Siblings in this process run this same program: their envelopes are what it built.
    const envelope = this.#opts.bridge.trusted ? unpacked as Envelope : parseEnvelope(unpacked);
    if (typeof envelope === "string") {
      this.stats.invalid++;
      this.#log.warn("bridge.invalid_envelope", {
        problem: envelope,
        count: this.stats.invalid,
        message: "a bridge message that is not valid was refused: a bug, or an isolate running " +
          "another version of WSTun",
      });
      return;
    }
    const { from } = envelope;
    if (from === this.isolate) return; // our own broadcast, echoed by the transport
    this.stats.received++;
    this.#liveness.heard(from);
    if (envelope.all) this.#links.accept(from, envelope.seq, envelope, BROADCAST_LINK + from, true);
    else this.#links.accept(from, envelope.seq, envelope);
  }

  #dispatch(from: string, body: Body): void {
    switch (body.k) {
      case "req":
        return this.#ownerSide.request(from, body);
      case "answer":
        // After a drained isolate's `bye` its answers and memberships are void: our sockets
        // follow its instances elsewhere, and their requests to it were routed again.
        if (this.#departed.has(from)) return;
        return this.#socketSide.answer(body.conn, body.id, body.text, body.refused);
      case "member":
        if (this.#departed.has(from)) return;
        return this.#socketSide.membership(from, body.conn, body.uuid, body.role);
      case "data":
        return this.#ownerSide.data(from, body);
      case "bin":
        return this.#ownerSide.binary(from, body);
      case "out":
        return this.#socketSide.out(body.conns, body.text);
      case "outbin":
        return this.#socketSide.out(body.conns, body.bytes);
      case "undo":
        return this.#ownerSide.undo(from, body);
      case "detach":
        return this.#ownerSide.detach(from, body.conn);
      case "hold":
        return this.#ownerSide.hold(from, body);
      case "held":
        return this.#memberHolds.held(body.id);
      case "beat":
        return;
      case "bye":
        return this.#isolateLeft(from, body.moving === true);
      case "bye_seen":
        return this.#byes.seen(from);
      case "adopted":
        return this.#socketSide.movedTo(body.uuid, from);
      case "chpub":
        return this.#channelDeliver?.(body.message);
      case "tun":
        return this.#tunnelDeliver?.(from, body.m);
      case "stats_req":
        return this.#snapshots.requested(from, body.id);
      case "stats":
        return this.#snapshots.answered(from, body.id, body.snapshot);
      default:
        return body satisfies never;
    }
  }

  /** Envelopes from `from` will never come: tell whoever's traffic crossed that link. */
  #gap(from: string, lost: number, broadcast: boolean): void {
    this.#log.warn("bridge.gap", {
      peer: from,
      lost,
      link: broadcast ? "broadcast" : "direct",
      message: broadcast
        ? `${lost} broadcast(s) (channel publishes) from isolate ${from} were lost`
        : `${lost} message(s) from isolate ${from} were lost; its sockets' clients get bridge_gap`,
    });
    if (broadcast) {
      this.stats.channelMessagesLost += lost;
      return;
    }
    this.stats.lost += lost;
    this.#socketSide.reportGap(from, lost);
    this.#ownerSide.reportGap(from, lost);
  }

  /** An isolate died: its instances wait for their hosts from now, as when it drains. */
  #isolateDied(isolate: string): void {
    this.#log.warn("bridge.isolate_gone", {
      peer: isolate,
      why: "died",
      message: `isolate ${isolate} stopped beating in the directory: its instances wait for ` +
        "their hosts to resume on a live isolate",
    });
    this.#markMoving(isolate, this.#now());
    this.#isolateGone(isolate, true);
  }

  /** An isolate said `bye`: it drained (its instances move) or shut down (they end). */
  #isolateLeft(isolate: string, moving: boolean): void {
    this.#log.info("bridge.isolate_gone", { peer: isolate, why: moving ? "drained" : "left" });
    if (!moving) return this.#isolateGone(isolate, false);
    // Our sockets stop posting into its instances in this same turn, so this answer follows
    // everything they posted there; the drained isolate waits for it before its `draining`.
    this.#post(isolate, { k: "bye_seen" });
    this.#departed.add(isolate);
    this.#stopFollowing(isolate, true);
    // Its own sockets still send into our instances until they get `draining` and close (each
    // close is told: `detach`), and the answer may still be in its outbox: the rest of its
    // leaving waits until it has surely exited.
    const timer = setTimeout(() => {
      this.#forgetting.delete(timer);
      this.#forget(isolate);
    }, Math.max(this.#opts.heartbeatMs, LEAVING_MS));
    this.#forgetting.add(timer);
  }

  /** An isolate died or left for good: both halves of its going at once. */
  #isolateGone(isolate: string, moving: boolean): void {
    this.#stopFollowing(isolate, moving);
    this.#forget(isolate);
  }

  /**
   * Our sockets follow its instances if they move (it drained or died), or lose them (it shut
   * down for good); nothing more is waited for from it.
   */
  #stopFollowing(isolate: string, moving: boolean): void {
    this.#socketSide.isolateGone(isolate, moving);
    this.#memberHolds.gone(isolate);
    this.#byes.gone(isolate);
    this.#liveness.forget(isolate);
  }

  /** Its sockets leave our instances; what we kept of its links and its outbox goes. */
  #forget(isolate: string): void {
    this.#ownerSide.isolateGone(isolate);
    this.#links.forget(isolate, BROADCAST_LINK + isolate);
    this.#opts.bridge.forget?.(isolate);
  }

  /** Isolates this one has sockets or requests with. */
  #peerIsolates(): Set<string> {
    const out = new Set<string>();
    this.#ownerSide.peerIsolates(out);
    this.#socketSide.peerIsolates(out);
    return out;
  }
}
