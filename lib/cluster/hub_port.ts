/**
 * What the cluster is handed of the hub (the hub implements it): the way requests, data and
 * closes that arrive from other isolates enter this isolate's hub, as if a local socket had sent
 * them. The cluster never asks the hub to check anything for it; the hub checks what arrives here
 * with its own rules.
 *
 * @module
 */
import type { InstanceRecord } from "../bridge/directory.ts";
import type { Instance } from "../hub/instance.ts";
import type { Forwarding, Reply, SecretCheck } from "../hub/cluster_port.ts";
import type { Peer, Session } from "../hub/peer.ts";
import type { ControlRequest, Ref } from "../protocol.ts";

export type { Forwarding, Reply, SecretCheck };

export interface HubPort {
  /** Instances on this isolate. */
  readonly instances: ReadonlyMap<string, Instance>;
  /** The hub's view of a socket on another isolate, reached through `peer`. */
  attach(peer: Peer): Session;
  /** Runs a request on this isolate; `forwarding`: how its proven secrets are checked here. */
  controlHere(session: Session, req: ControlRequest, forwarding?: Forwarding): void;
  /** Routes a data frame for an instance here (its text already free of `from`). */
  dataHere(session: Session, uuid: string, text: string, to: unknown, ref: Ref): void;
  /** Routes a binary frame for an instance here. */
  binaryHere(session: Session, bytes: Uint8Array<ArrayBuffer>): void;
  /**
   * The socket (on an isolate that drains) moves to another isolate: its memberships are held
   * for its rejoin there (frames kept, its place kept, its close ending nothing).
   */
  hold(session: Session): void;
  /** A socket is gone: its memberships end, its instances wait for the host's grace. */
  detach(session: Session): void;
  /** Takes over an instance whose owner is gone, `session` its host; answers the resume. */
  adoptHere(session: Session, record: InstanceRecord, returning: number, ref: Ref): void;
  /** A local instance was adopted by another isolate: its host and members follow it there. */
  movedAway(uuid: string): void;
  /**
   * Tells a socket here that instance `uuid` (on another isolate) moves: `instance_moving` with
   * the frames taken so far; its frames for `uuid` are refused `moving` until it comes back.
   */
  moving(session: Session, uuid: string): void;
}
