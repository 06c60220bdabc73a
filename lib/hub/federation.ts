/**
 * What the hub asks of other isolates, when there are any (lib/bridge/federation.ts implements it).
 *
 * The hub calls these only off the hot path: when a request or a data frame names an instance
 * that is not on this isolate, when an instance is created, changes or ends, when a socket
 * leaves, and to list instances. A hub without a federation is a single isolate and never pays
 * for any of this.
 *
 * @module
 */
import type { ControlRequest, CreateInstance, InstanceInfo, Ref } from "../protocol.ts";
import type { Instance } from "./instance.ts";
import type { Session } from "./peer.ts";

/** A control request that names an instance. */
export type InstanceRequest = Extract<ControlRequest, { uuid: string }>;

/** Checks a secret the client presented against the one the instance holds. */
export type SecretCheck = (expected: string) => boolean;

export interface Federation {
  /** A new local instance; resolves once other isolates can find it. */
  published(instance: Instance): Promise<void>;
  /** A local instance's public record changed (its member count). */
  changed(instance: Instance): void;
  /** A local instance ended. */
  removed(uuid: string): void;
  /** A request naming an instance that is not here: answered by its owner, or refused. */
  forward(session: Session, req: InstanceRequest): void;
  /** A data frame (text or binary) for an instance that is not here. */
  forwardData(session: Session, uuid: string, frame: string | Uint8Array, ref: Ref): void;
  /**
   * `create_instance` with a `key` whose instance is not here: taken over on its owner if it is
   * live elsewhere (the key was verified here: it is the preimage of `uuid`), else created here.
   */
  createKeyed(session: Session, req: CreateInstance, uuid: string): void;
  /** Public records of every isolate's instances. */
  list(service?: string): Promise<InstanceInfo[]>;
  /** A local socket closed. */
  detached(session: Session): void;
  /** Instances a local socket has joined on other isolates, joins on their way included. */
  joinedElsewhere(session: Session): number;
  /** Instances a local socket hosts on other isolates (it took them over there). */
  hostedElsewhere(session: Session): number;
}
