/**
 * The instance directory: the public record of every instance of every isolate, and which
 * isolates are alive. `list_instances`, `/_api/instances` and `/` read it; a join on an isolate
 * that does not own the instance reads it to find the owner.
 *
 * Liveness: an isolate writes its own record every heartbeat with an expiry of
 * {@link isolateTtlMs} (three heartbeats). Readers treat an instance whose owner has no live
 * record as gone, so a dead isolate's instances vanish from listings within three heartbeats of
 * its last one. Records never hold a join token or resume secret.
 *
 * @module
 */
import type { InstanceInfo } from "../protocol.ts";
import type { TunnelDirectory } from "./tunnel_directory.ts";

/**
 * The record of one instance: its public description, the isolate that owns it (holds its host),
 * and what another isolate needs to adopt it when the owner drains or dies — verifiers of its
 * secrets (lib/hub/instance_secrets.ts), never the secrets themselves.
 */
export interface InstanceRecord extends InstanceInfo {
  owner: string;
  /** Verifier of the resume secret; absent on a keyed create's provisional claim. */
  resumeVerifier?: string;
  /** Verifier of the join token; absent for an open instance. */
  tokenVerifier?: string;
  /** Created with a `key` (its uuid is derived from the key). */
  keyed?: boolean;
  /** Since when (ms) the instance waits to be adopted: its owner drained or died. */
  moving?: number;
}

/** A record as found, whether or not its owner is alive. */
export interface FoundRecord {
  record: InstanceRecord;
  ownerAlive: boolean;
}

/** The public part of a record: what listings show. */
export function publicInfo(record: InstanceRecord): InstanceInfo {
  const { uuid, name, service, members, createdAt } = record;
  return { uuid, name, service, protected: record.protected, members, createdAt };
}

export { RECORD_TTL_MS } from "./record_ttl.ts";

/** A heartbeat's isolate record lives this long: three heartbeats. */
export function isolateTtlMs(heartbeatMs: number): number {
  return 3 * heartbeatMs;
}

/** Where instance records and isolate heartbeats are kept. */
export interface Directory {
  /**
   * Writes (creates or updates) instance records, each only if its uuid has no record or one of
   * the same owner, atomically per record: a record another isolate adopted is never overwritten
   * by its previous owner. Resolves with the uuids not written (held by another owner now).
   */
  put(records: InstanceRecord[]): Promise<string[]>;
  /**
   * Writes `record` unless the uuid's record names another isolate that is alive and not moving:
   * then that record is returned and nothing is written. Atomic in its store, so of two isolates
   * claiming one uuid at once exactly one wins (keyed creates: `create_instance` with a `key`).
   */
  claim(record: InstanceRecord): Promise<InstanceRecord | null>;
  /**
   * Takes an instance over from `previousOwner` (which drained or died): writes `record` only if
   * the uuid's record still names `previousOwner`. Atomic, so of two isolates adopting one
   * instance exactly one wins. Resolves whether this one did.
   */
  adopt(record: InstanceRecord, previousOwner: string): Promise<boolean>;
  /**
   * Marks the records of `owner` (those in `uuids`, or all of them) as moving since `since`,
   * unless they are moving already or another isolate owns them now.
   */
  markMoving(owner: string, since: number, uuids?: string[]): Promise<void>;
  /** A record whatever its owner's state, and whether the owner is alive; null when none. */
  find(uuid: string): Promise<FoundRecord | null>;
  /** Removes an instance's record. */
  remove(uuid: string): Promise<void>;
  /** Every record, and whether its owner is alive (the cluster decides what is live). */
  list(): Promise<FoundRecord[]>;
  /**
   * Marks `isolate` alive for `ttlMs`. Resolves false when it was not alive before (its first
   * beat, or the store lost it: a restarted Redis), so the caller writes its records again.
   */
  beat(isolate: string, ttlMs: number): Promise<boolean>;
  /** Whether `isolate` has beaten within its ttl. */
  alive(isolate: string): Promise<boolean>;
  /** Every isolate that has beaten within its ttl (bridge health: who should be heard). */
  isolates(): Promise<string[]>;
  /** Removes an isolate that is shutting down, and its instance records. */
  leave(isolate: string, uuids: string[]): Promise<void>;
  /**
   * The tunnel records kept in this same store (tunnel_directory.ts), so a tunnel's record and
   * its owner's liveness are always seen by the same isolates; closed with this directory.
   */
  tunnels(): TunnelDirectory;
  /**
   * The hub's secret (keyed instance ids, lib/hub/instance_secrets.ts): created at random by
   * whichever isolate asks first (set only if absent, atomically), then the same for every
   * isolate sharing this store, and kept as long as the store is.
   */
  serverSecret(): Promise<string>;
  /** Releases what the directory opened itself (a Redis connection); not a KV it was given. */
  close(): Promise<void>;
}
