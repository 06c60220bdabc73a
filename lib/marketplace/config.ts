/**
 * The marketplace's environment variables, as one zod shape that lib/config.ts spreads into the
 * server's schema (so a bad value stops start-up with a one-line message naming the variable), and
 * the `MarketplaceLimits` the installer takes. Defaults are documented in docs/services.md.
 *
 * @module
 */
import { z } from "zod";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Empty variables count as unset, as in lib/config.ts. */
const unsetIfEmpty = (v: unknown) => (v === "" ? undefined : v);

function integer(fallback: number, min: number, max: number) {
  const message = `must be an integer between ${min} and ${max}`;
  return z.preprocess(
    unsetIfEmpty,
    z.coerce.number().int(message).min(min, message).max(max, message).default(fallback),
  );
}

const boolean = (fallback: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z.enum(["true", "false", "1", "0"], { message: "must be true or false" })
      .default(fallback ? "true" : "false")
      .transform((v) => v === "true" || v === "1"),
  );

/** Comma-separated absolute http(s) URLs; blanks ignored. */
const urlList = z.preprocess(
  unsetIfEmpty,
  z.string().default("").transform((raw, ctx) => {
    const urls = raw.split(",").map((s) => s.trim()).filter(Boolean);
    for (const url of urls) {
      if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
        ctx.addIssue({
          code: "custom",
          message: `must be comma-separated http(s) URLs, not ${url}`,
        });
        return z.NEVER;
      }
    }
    return urls;
  }),
);

/** Marketplace variables, keyed by their environment names. */
export const marketplaceEnvShape = {
  /** Deno KV file for installed services; unset = Deno's default (the managed KV on Deploy). */
  WSTUN_KV_PATH: z.preprocess(unsetIfEmpty, z.string().min(1).optional()),
  /** Index URLs /admin offers to browse. */
  WSTUN_MARKETPLACE_URLS: urlList,
  /**
   * Whether marketplace URLs may point at loopback and private addresses. Off by default: an
   * admin browsing a URL must not be able to make the server probe its own network.
   */
  WSTUN_MARKETPLACE_ALLOW_PRIVATE: boolean(false),
  WSTUN_MARKETPLACE_FETCH_TIMEOUT_MS: integer(10_000, 100, 300_000),
  WSTUN_MARKETPLACE_MAX_REDIRECTS: integer(3, 0, 20),
  /** Largest index or manifest document. */
  WSTUN_MARKETPLACE_MAX_DOCUMENT_BYTES: integer(256 * KiB, 1 * KiB, 16 * MiB),
  WSTUN_MARKETPLACE_MAX_FILE_BYTES: integer(2 * MiB, 1, 64 * MiB),
  WSTUN_MARKETPLACE_MAX_TOTAL_BYTES: integer(10 * MiB, 1, 256 * MiB),
  WSTUN_MARKETPLACE_MAX_FILES: integer(100, 1, 10_000),
  WSTUN_MARKETPLACE_MAX_SERVICES: integer(50, 1, 10_000),
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
