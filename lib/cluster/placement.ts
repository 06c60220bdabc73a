/**
 * Where a request for an instance that is not on this isolate should go, read from its directory
 * record: to its live owner, to adoption (the owner drained or died, and the host's grace since
 * then has not run out), or nowhere (no such instance, or its grace is over).
 *
 * "Died" is the directory's view (no heartbeat for three heartbeats), except for an isolate that
 * runs alone (no bridge: one server with a `WSTUN_KV_PATH` file): every other owner in the store
 * is a previous run of this server, so it is dead at once.
 *
 * @module
 */
import type { FoundRecord, InstanceRecord } from "../bridge/directory.ts";

export type Placement =
  | { kind: "owner"; owner: string }
  | { kind: "moving"; record: InstanceRecord; since: number; marked: boolean }
  | { kind: "gone"; expired: boolean };

export interface PlacementContext {
  isolate: string;
  /** True when no other isolate can be alive: the server runs without a bridge. */
  alone: boolean;
  /** `WSTUN_HOST_GRACE_MS`: how long a moving instance waits for its host. */
  graceMs: number;
  now: number;
}

/** Where a request for the instance of `found` goes. */
export function place(found: FoundRecord | null, ctx: PlacementContext): Placement {
  if (!found) return { kind: "gone", expired: false };
  const { record, ownerAlive } = found;
  // Ours in the store but not in memory: it ended a moment ago.
  if (record.owner === ctx.isolate) return { kind: "gone", expired: false };
  const dead = ctx.alone || !ownerAlive;
  if (record.moving === undefined && !dead) return { kind: "owner", owner: record.owner };
  const since = record.moving ?? ctx.now;
  if (ctx.now - since > ctx.graceMs) return { kind: "gone", expired: true };
  return { kind: "moving", record, since, marked: record.moving !== undefined };
}
