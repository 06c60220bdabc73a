/**
 * A compare-and-set over one Deno KV key, for the directory's claims (an instance uuid, a tunnel
 * id): read the key, let the caller decide, commit its write checked against what was read, and
 * read again when another write got in between.
 *
 * Guarantees: a value is written only if the key still holds what `decide` saw; at most
 * {@link MAX_CLAIM_ATTEMPTS} lost races in a row (each loss is another claim of the same key
 * committing, which takes simultaneous claims), then an error naming `what`.
 *
 * @module
 */

/** Lost races in a row before a claim gives up. */
export const MAX_CLAIM_ATTEMPTS = 32;

/** What a claim decided on seeing the key: write `value` (then answer `result`), or answer only. */
export type ClaimDecision<V, R> = { write: V; result: R } | { write?: undefined; result: R };

export async function claimKey<V, R>(
  kv: Deno.Kv,
  key: Deno.KvKey,
  expireIn: number,
  what: string,
  decide: (current: Deno.KvEntryMaybe<V>) => ClaimDecision<V, R> | Promise<ClaimDecision<V, R>>,
): Promise<R> {
  for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
    const current = await kv.get<V>(key);
    const decision = await decide(current);
    if (decision.write === undefined) return decision.result;
    const written = await kv.atomic().check(current).set(key, decision.write, { expireIn })
      .commit();
    if (written.ok) return decision.result;
  }
  throw new Error(`${what}: lost ${MAX_CLAIM_ATTEMPTS} claim races in a row`);
}
