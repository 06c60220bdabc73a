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

/** The public record of one instance, plus the isolate that owns it (holds its host). */
export interface InstanceRecord extends InstanceInfo {
  owner: string;
}

/** Instance records expire after an hour unless rewritten; owners rewrite every 20 minutes. */
export const RECORD_TTL_MS = 3_600_000;

/** A heartbeat's isolate record lives this long: three heartbeats. */
export function isolateTtlMs(heartbeatMs: number): number {
  return 3 * heartbeatMs;
}

/** Where instance records and isolate heartbeats are kept. */
export interface Directory {
  /** Writes (creates or updates) instance records. */
  put(records: InstanceRecord[]): Promise<void>;
  /**
   * Writes `record` unless the uuid's record names another isolate that is alive: then that
   * record is returned and nothing is written. Atomic in its store, so of two isolates claiming
   * one uuid at once exactly one wins (keyed creates: `create_instance` with a `key`).
   */
  claim(record: InstanceRecord): Promise<InstanceRecord | null>;
  /** Removes an instance's record. */
  remove(uuid: string): Promise<void>;
  /** The record of a live instance (its owner alive), or null. */
  get(uuid: string): Promise<InstanceRecord | null>;
  /** Records of live instances (their owners alive). */
  list(): Promise<InstanceRecord[]>;
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
   * The hub's secret (keyed instance ids, lib/hub/instance_key.ts): created at random by
   * whichever isolate asks first (set only if absent, atomically), then the same for every
   * isolate sharing this store, and kept as long as the store is.
   */
  serverSecret(): Promise<string>;
  /** Releases what the directory opened itself (a Redis connection); not a KV it was given. */
  close(): Promise<void>;
}
