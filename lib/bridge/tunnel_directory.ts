/**
 * The tunnel directory: which isolate holds the client of each tunnel id, so a viewer arriving on
 * any isolate finds it (docs/tunnels.md, "Across isolates"). Every `Directory` (directory.ts)
 * hands out the one kept in its own store (`Directory.tunnels()`): a record is only worth its
 * owner's liveness, which lives in that store, so both are seen by exactly the same isolates (a
 * Redis shared by several machines, or one Deno KV).
 *
 * A record names its owner isolate and the claim (a fresh id per registration) that wrote it.
 * Guarantees of an implementation, each operation atomic in its store:
 *
 * - `claim` is last-writer-wins and returns exactly the record it replaced, so every displaced
 *   registration is reported to exactly one later claimant (which evicts it), however claims on
 *   different isolates race;
 * - `release` and `renew` compare the claim: a late close never deletes a newer registration's
 *   record, and renewing never overwrites one;
 * - records expire {@link RECORD_TTL_MS} after they were last written (owners renew them every
 *   third of that, and at once when the store lost them). Readers never rely on the expiry: a
 *   record whose owner is not alive is ignored; the expiry only bounds what a dead isolate
 *   leaves behind.
 *
 * @module
 */
import { z } from "zod";
import { RECORD_TTL_MS } from "./record_ttl.ts";

/** Tunnel records expire an hour after they were last written, like instance records. */
export const TUNNEL_RECORD_TTL_MS = RECORD_TTL_MS;

/** One tunnel id's record: the isolate holding its client, and the registration that wrote it. */
export const TunnelRecord = z.object({ owner: z.string(), claim: z.string() });
export type TunnelRecord = z.infer<typeof TunnelRecord>;

/**
 * A stored value as a record, or undefined. Values of another shape (a bare isolate id written
 * by an older WSTun into the same KV) read as no record, so a new claim simply replaces them.
 */
export function parseTunnelRecord(value: unknown): TunnelRecord | undefined {
  const parsed = TunnelRecord.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Where tunnel records are kept (KV or Redis, beside the instance directory). */
export interface TunnelDirectory {
  /** Makes `record` the one for `id` (last claim wins); resolves the record it replaced. */
  claim(id: string, record: TunnelRecord): Promise<TunnelRecord | undefined>;
  /** Writes `record` again, with a fresh expiry, if it is still the one for `id` or none is. */
  renew(id: string, record: TunnelRecord): Promise<void>;
  /** Removes the record for `id` if it is still `record` (no newer claim took its place). */
  release(id: string, record: TunnelRecord): Promise<void>;
  /** The record for `id`, if any (whether its owner is alive is the caller's question). */
  get(id: string): Promise<TunnelRecord | undefined>;
}
