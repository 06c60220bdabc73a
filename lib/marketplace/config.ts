/**
 * The marketplace's environment variables, as one zod shape (written with lib/env_schema.ts) that
 * lib/config.ts spreads into the server's schema (so a bad value stops start-up with a one-line message naming the variable), and
 * the `MarketplaceLimits` the installer takes. Defaults are documented in docs/services.md.
 *
 * @module
 */
import { z } from "zod";
import { commaList, flag, httpUrl, integer, milliseconds, unsetIfEmpty } from "../env_schema.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** An index URL; the message names the one refused. */
const indexUrl = httpUrl((url) => `must be comma-separated http(s) URLs, not ${url}`);

/** Marketplace variables, keyed by their environment names. */
export const marketplaceEnvShape = {
  /** Deno KV file for installed services; unset = Deno's default (the managed KV on Deploy). */
  WSTUN_KV_PATH: unsetIfEmpty(z.string().min(1).optional()),
  /** Index URLs /admin offers to browse. */
  WSTUN_MARKETPLACE_URLS: commaList(indexUrl),
  /**
   * Whether marketplace URLs may point at loopback and private addresses. Off by default: an
   * admin browsing a URL must not be able to make the server probe its own network.
   */
  WSTUN_MARKETPLACE_ALLOW_PRIVATE: flag(false),
  WSTUN_MARKETPLACE_FETCH_TIMEOUT_MS: milliseconds(100, 300_000, 10_000),
  WSTUN_MARKETPLACE_MAX_REDIRECTS: integer(0, 20, 3),
  /** Largest index or manifest document. */
  WSTUN_MARKETPLACE_MAX_DOCUMENT_BYTES: integer(1 * KiB, 16 * MiB, 256 * KiB),
  WSTUN_MARKETPLACE_MAX_FILE_BYTES: integer(1, 64 * MiB, 2 * MiB),
  WSTUN_MARKETPLACE_MAX_TOTAL_BYTES: integer(1, 256 * MiB, 10 * MiB),
  WSTUN_MARKETPLACE_MAX_FILES: integer(1, 10_000, 100),
  WSTUN_MARKETPLACE_MAX_SERVICES: integer(1, 10_000, 50),
};

export const MarketplaceEnv = z.object(marketplaceEnvShape);
export type MarketplaceEnv = z.infer<typeof MarketplaceEnv>;

/** What the installer enforces. */
export interface MarketplaceLimits {
  allowPrivate: boolean;
  fetchTimeoutMs: number;
  maxRedirects: number;
  maxDocumentBytes: number;
  maxFileBytes: number;
  maxTotalBytes: number;
  maxFiles: number;
  maxServices: number;
}

/** The defaults, as `MarketplaceEnv.parse({})` gives them. */
export const DEFAULT_MARKETPLACE_LIMITS: Readonly<MarketplaceLimits> = limitsFromEnv(
  MarketplaceEnv.parse({}),
);

export function limitsFromEnv(env: MarketplaceEnv): MarketplaceLimits {
  return {
    allowPrivate: env.WSTUN_MARKETPLACE_ALLOW_PRIVATE,
    fetchTimeoutMs: env.WSTUN_MARKETPLACE_FETCH_TIMEOUT_MS,
    maxRedirects: env.WSTUN_MARKETPLACE_MAX_REDIRECTS,
    maxDocumentBytes: env.WSTUN_MARKETPLACE_MAX_DOCUMENT_BYTES,
    maxFileBytes: env.WSTUN_MARKETPLACE_MAX_FILE_BYTES,
    maxTotalBytes: env.WSTUN_MARKETPLACE_MAX_TOTAL_BYTES,
    maxFiles: env.WSTUN_MARKETPLACE_MAX_FILES,
    maxServices: env.WSTUN_MARKETPLACE_MAX_SERVICES,
  };
}
