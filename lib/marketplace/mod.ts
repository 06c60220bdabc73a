/**
 * Marketplace services: install services from marketplace URLs into Deno KV, keep them in the
 * service catalog, and serve their files. Start with `Marketplace`; the formats are in schema.ts
 * and docs/services.md.
 *
 * @example
 * ```ts
 * const marketplace = new Marketplace({ kv, catalog, closeInstancesOfService: (n, r) => hub.closeInstancesOfService(n, r) });
 * await marketplace.load();
 * const result = await marketplace.install({ url: "https://example.org/index.json", name: "poll" });
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./content_type.ts";
export * from "./marketplace.ts";
export * from "./schema.ts";
export * from "./service_name.ts";
export type { ResolveHost } from "./address_policy.ts";
export { isNonPublicAddress, nonPublicReason } from "./ip_ranges.ts";
