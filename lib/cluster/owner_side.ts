/**
 * The cluster on the isolate that owns an instance: the sockets of other isolates that take part
 * in it, each a hub {@link Session} whose peer posts back over the bridge.
 *
 * Requests, data and closes from another isolate enter the hub through its {@link HubPort}, so
 * every protocol rule runs unchanged and in one place. What goes back: the direct answer to a
 * request (`answer`, by request id), every change of a remote socket's membership (`member`, told
 * by the hub as it happens), and frames (`out`). A broadcast to members on another isolate is one
 * `out` naming all of them there (their peers share one {@link PeerGroup} per isolate).
 *
 * @module
 */
import type { Peer, PeerGroup, Session } from "../hub/peer.ts";
import type { ServerFrame } from "../protocol.ts";
import type { Body, BodyOf, Role } from "./envelope.ts";
import type { HubPort, SecretCheck } from "./hub_port.ts";
import { proofMatches } from "./secret_proof.ts";
import { gapFrame } from "./gap_error.ts";

export interface OwnerSideDeps {
  hub: HubPort;
  post(isolate: string, body: Body): void;
  /**
   * Runs `run` once an adoption of `uuid` under way on this isolate is settled (at once when
   * none is): the directory may already name this isolate the owner while the instance is not
   * here yet, and a request forwarded in that moment must not find it unknown.
   */
  afterAdoption(uuid: string, run: () => void): void;
}

/** Where a remote session's socket is. */
interface RemoteKey {
  isolate: string;
  conn: string;
}

export class OwnerSide {
  readonly #deps: OwnerSideDeps;
  /** isolate → conn → the session standing for that socket here. */
  readonly #sessions = new Map<string, Map<string, Session>>();
  readonly #keys = new WeakMap<Session, RemoteKey>();
  readonly #routes = new Map<string, IsolateRoute>();

  constructor(deps: OwnerSideDeps) {
    this.#deps = deps;
  }

  /** Whether `session` stands for a socket on another isolate. */
  isRemote(session: Session): boolean {
    return this.#keys.has(session);
  }

  request(from: string, body: BodyOf<"req">): void {
    const session = this.#session(from, body.conn);
    const { proof, rejoinProof, memberVerifier } = body;
    const check: SecretCheck | undefined = body.verified
      ? () => true
      : proof
      ? (expected) => proofMatches(proof, expected)
      : undefined;
    const rejoinCheck: SecretCheck = (expected) =>
      rejoinProof !== undefined && proofMatches(rejoinProof, expected);
    const reply = (frame: ServerFrame) =>
      this.#deps.post(from, {
        k: "answer",
        conn: body.conn,
        id: body.id,
        text: JSON.stringify(frame),
        refused: refusalCode(frame),
      });
    this.#deps.afterAdoption(
      body.frame.uuid,
      () =>
        this.#deps.hub.controlHere(session, body.frame, {
          check,
          rejoinCheck,
          memberVerifier,
          reply,
        }),
    );
  }

  data(from: string, body: BodyOf<"data">): void {
    const session = this.#session(from, body.conn);
    this.#deps.hub.dataHere(session, body.uuid, body.text, body.to, body.ref);
  }

  binary(from: string, body: BodyOf<"bin">): void {
    this.#deps.hub.binaryHere(this.#session(from, body.conn), body.bytes);
  }

  /** A join that timed out on the socket's isolate: undo it if it happened after all. */
  undo(from: string, { conn, uuid }: BodyOf<"undo">): void {
    const session = this.#sessions.get(from)?.get(conn);
    if (!session?.joined?.has(uuid)) return;
    this.#deps.hub.controlHere(session, { type: "leave_instance", uuid });
  }

  /** The socket closed on its isolate. */
  detach(from: string, conn: string): void {
    const sessions = this.#sessions.get(from);
    const session = sessions?.get(conn);
    if (!session) return;
    sessions!.delete(conn);
    this.#deps.hub.detach(session);
  }

  /**
   * The sockets' isolate drains: their memberships here are held for their rejoin elsewhere,
   * then it is told (`held`), behind every frame sent to them before.
   */
  hold(from: string, { id, conns }: BodyOf<"hold">): void {
    const sessions = this.#sessions.get(from);
    for (const conn of conns) {
      const session = sessions?.get(conn);
      if (session) this.#deps.hub.hold(session);
    }
    this.#deps.post(from, { k: "held", id });
  }

  /** The hub says a session's part in an instance changed: tell the socket's isolate. */
  membership(session: Session, uuid: string, role: Role): void {
    const key = this.#keys.get(session);
    if (key) this.#deps.post(key.isolate, { k: "member", conn: key.conn, uuid, role });
  }

  /** An isolate died or left: its sockets leave our instances. */
  isolateGone(isolate: string): void {
    const sessions = this.#sessions.get(isolate);
    this.#sessions.delete(isolate);
    this.#routes.delete(isolate);
    for (const session of sessions?.values() ?? []) this.#deps.hub.detach(session);
  }

  /** Tells hosts and members here whose traffic crosses the link from `from` of lost messages. */
  reportGap(from: string, lost: number): void {
    const gap = (uuid: string) => gapFrame(uuid, lost);
    const instances = this.#deps.hub.instances;
    for (const session of this.#sessions.get(from)?.values() ?? []) {
      for (const uuid of session.joined?.keys() ?? []) instances.get(uuid)?.notifyHost(gap(uuid));
      for (const uuid of session.hosted ?? []) instances.get(uuid)?.notifyMembers(gap(uuid));
    }
  }

  /** Isolates with sockets in our instances. */
  peerIsolates(into: Set<string>): void {
    for (const [isolate, sessions] of this.#sessions) if (sessions.size > 0) into.add(isolate);
  }

  #session(isolate: string, conn: string): Session {
    let sessions = this.#sessions.get(isolate);
    if (!sessions) this.#sessions.set(isolate, sessions = new Map());
    let session = sessions.get(conn);
    if (!session) {
      session = this.#deps.hub.attach(new RemotePeer(this.#route(isolate), conn));
      sessions.set(conn, session);
      this.#keys.set(session, { isolate, conn });
    }
    return session;
  }

  #route(isolate: string): IsolateRoute {
    let route = this.#routes.get(isolate);
    if (!route) {
      route = new IsolateRoute(isolate, this.#deps.post);
      this.#routes.set(isolate, route);
    }
    return route;
  }
}

/** The sockets of one other isolate, reached with one `out` for any number of them. */
class IsolateRoute implements PeerGroup {
  constructor(
    readonly isolate: string,
    readonly post: (isolate: string, body: Body) => void,
  ) {}

  sendText(peers: readonly Peer[], text: string): void {
    this.post(this.isolate, { k: "out", conns: conns(peers), text });
  }

  sendBinary(peers: readonly Peer[], bytes: Uint8Array<ArrayBuffer>): void {
    this.post(this.isolate, { k: "outbin", conns: conns(peers), bytes });
  }
}

/** The owner's stand-in for a socket on another isolate: frames go back over the bridge. */
class RemotePeer implements Peer {
  constructor(readonly group: IsolateRoute, readonly conn: string) {}

  sendText(text: string): void {
    this.group.post(this.group.isolate, { k: "out", conns: [this.conn], text });
  }

  sendBinary(bytes: Uint8Array<ArrayBuffer>): void {
    this.group.post(this.group.isolate, { k: "outbin", conns: [this.conn], bytes });
  }
}

/** The error code of a refusal (an `error` frame or a failed `ack`); undefined otherwise. */
function refusalCode(frame: ServerFrame): string | undefined {
  if (frame.type === "error") return frame.code;
  if (frame.type === "ack" && !frame.success) return frame.error;
  return undefined;
}

function conns(peers: readonly Peer[]): string[] {
  return peers.map((peer) => (peer as RemotePeer).conn);
}
