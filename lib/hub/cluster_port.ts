/**
 * What the hub asks of other isolates, when there are any (lib/cluster/node.ts implements it).
 *
 * The hub calls these only off the hot path: when a request or a data frame names an instance
 * that is not on this isolate (after checking what it can here), when an instance is created,
 * changes or ends, when a session's part in an instance changes, when a socket leaves, and to
 * list instances. A hub without a cluster is a single isolate and never pays for any of this.
 * The cluster never calls back into the hub's checks: admission asks {@link ClusterPort.counts}.
 *
 * @module
 */
import { z } from "zod";
import type {
  CreateInstance,
  InstanceInfo,
  InstanceRequest,
  Ref,
  ServerFrame,
} from "../protocol.ts";
import type { Instance } from "./instance.ts";
import type { Session } from "./peer.ts";

/**
 * A session's part in an instance, as the hub reports it: member, host, gone, or gone because
 * the instance moved to another isolate (its socket follows it: `instance_moving`).
 */
export const Role = z.enum(["member", "host", "none", "moving"]);
export type Role = z.infer<typeof Role>;

/** Checks a secret the client presented (on another isolate) against the one an instance holds. */
export type SecretCheck = (expected: string) => boolean;

/** Where the direct answer to a request goes (the socket's own isolate, for a remote one). */
export type Reply = (frame: ServerFrame) => void;

/**
 * What comes with a request whose client presented its secrets on another isolate (or whose
 * secret was checked there already): how to check them here, and where the answer goes.
 */
export interface Forwarding {
  /** Verifies the join token or resume secret proven there. */
  check?: SecretCheck;
  /** Verifies a rejoining member's own secret (`resume` of a join) proven there. */
  rejoinCheck?: SecretCheck;
  /**
   * A join's member secret, as its verifier: the secret was made there and stays there (it adds
   * it to the `ack` it hands its socket), so this `ack` carries none.
   */
  memberVerifier?: string;
  /** Takes the direct answer (by default the session's socket). */
  reply?: Reply;
}

export interface ClusterPort {
  /** A new local instance; resolves once other isolates can find it. */
  published(instance: Instance): Promise<void>;
  /** A local instance's public record changed (its member count). */
  changed(instance: Instance): void;
  /** A local instance ended. */
  removed(uuid: string): void;
  /** A request naming an instance that is not here: answered by its owner, or refused. */
  forward(session: Session, req: InstanceRequest): void;
  /** A data frame (text free of `from`, `to` checked) for an instance that is not here. */
  forwardData(
    session: Session,
    uuid: string,
    text: string,
    to: string | string[] | undefined,
    ref: Ref,
  ): void;
  /** A binary frame for an instance that is not here. */
  forwardBinary(session: Session, uuid: string, bytes: Uint8Array<ArrayBuffer>): void;
  /**
   * `create_instance` with a `key` whose instance is not here (checked here): taken over on its
   * owner if it is live elsewhere, else created here by `createHere`, which says if it did.
   */
  createKeyed(
    session: Session,
    req: CreateInstance,
    uuid: string,
    createHere: () => boolean,
  ): void;
  /** Public records of every isolate's instances. */
  list(service?: string): Promise<InstanceInfo[]>;
  /** A session's part in a local instance changed (it joined, hosts it, or left it). */
  membership(session: Session, uuid: string, role: Role): void;
  /** A session closed. */
  detached(session: Session): void;
  /** Whether `session` stands for a socket on another isolate. */
  isRemote(session: Session): boolean;
  /** Instances a local socket has joined (joins on their way included) and hosts elsewhere. */
  counts(session: Session): { joined: number; hosted: number };
}
