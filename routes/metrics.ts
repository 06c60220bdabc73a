/**
 * The operator's endpoints (docs/operations.md):
 *
 * - `GET /metrics`: Prometheus text exposition of every isolate snapshot `scrape()` returns
 *   (this isolate's, and on a worker of `WSTUN_WORKERS` its siblings'), and how many isolates did
 *   not answer in time. `Authorization: Bearer` with `WSTUN_METRICS_TOKEN` or the admin token;
 *   403 `metrics_disabled` when neither is set, 401 otherwise. Mounted before the server-token
 *   guard, so a scraper needs only its own token.
 * - `GET /_api/metrics` (admin token): the same snapshots as JSON, the isolates missing from them,
 *   and the bridge health, for the admin page's live view.
 * - `GET /_api/ready`: 200 or 503 with `{ready, reason?, checks}` (lib/observability/readiness.ts).
 *   Public like `/_api/health`: load balancers probe without credentials, and the answer names
 *   only conditions, never a secret.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import {
  type BridgeHealthSource,
  evaluateReadiness,
  PROMETHEUS_CONTENT_TYPE,
  type ReadinessCheck,
  renderScrape,
  type Scrape,
} from "../lib/observability/mod.ts";
import { secretEquals } from "../lib/secret.ts";
import { requireAdmin } from "./admin_auth.ts";
import { WstunError } from "../lib/errors/mod.ts";
import { errorJson } from "./error_json.ts";
import { bearerToken } from "./server_auth.ts";

export interface MetricsRouteDeps {
  adminToken?: string;
  metricsToken?: string;
  /** Every isolate's snapshot this isolate can give (its own at least), and who is missing. */
  scrape: () => Scrape | Promise<Scrape>;
  /** Bridge health per isolate; null when the bridge is off. */
  bridgeHealth: BridgeHealthSource | null;
  /** This isolate's id, in `/_api/ready`'s answer. */
  isolate: string;
  readiness: readonly ReadinessCheck[];
}

/** `/metrics`, `/_api/metrics` and `/_api/ready`; mount before the server-token guard. */
export function metricsRoutes(deps: MetricsRouteDeps): Hono {
  const app = new Hono();
  const tokens = [deps.metricsToken, deps.adminToken].filter((t): t is string => !!t);
  app.get("/metrics", requireScrapeToken(tokens), async (c) => {
    const text = renderScrape(await deps.scrape());
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });
  app.get("/_api/metrics", requireAdmin(deps.adminToken), async (c) => {
    const [{ snapshots, missing }, bridge] = await Promise.all([
      deps.scrape(),
      deps.bridgeHealth?.(),
    ]);
    return c.json({ isolate: deps.isolate, snapshots, missing, bridge: bridge ?? null });
  });
  app.get("/_api/ready", async (c) => {
    const readiness = await evaluateReadiness(deps.readiness);
    return c.json({ isolate: deps.isolate, ...readiness }, readiness.ready ? 200 : 503);
  });
  return app;
}

/**
 * Bearer `tokens` (the metrics token, the admin token), each compared in constant time; the
 * token is never echoed.
 */
function requireScrapeToken(tokens: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    if (tokens.length === 0) {
      const message = "GET /metrics is off: set WSTUN_METRICS_TOKEN or WSTUN_ADMIN_TOKEN";
      return errorJson(c, new WstunError("metrics_disabled", message));
    }
    const presented = bearerToken(c);
    // Every token is compared, so the time taken does not say which one matched.
    const matches = tokens.filter((token) => secretEquals(presented, token));
    if (matches.length > 0) return await next();
    c.header("WWW-Authenticate", 'Bearer realm="wstun-metrics"');
    const message = presented === undefined
      ? "missing Authorization: Bearer <metrics or admin token>"
      : "wrong metrics token";
    return errorJson(c, new WstunError("unauthorized", message));
  };
}
