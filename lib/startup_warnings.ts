/**
 * Warnings about a configuration that works but costs something the operator should know about,
 * printed once at start-up (main.ts). Never a secret in them.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { viewerUrls } from "./tunnel/viewer_urls.ts";

/** One line per warning; empty when there is nothing to say. */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const tunnel = config.tunnel;
  if (tunnel.secrets && !viewerUrls(tunnel.urlPrefix).ownOrigins) {
    warnings.push(
      `tunnels: viewers share one origin (${viewerUrls(tunnel.urlPrefix).description}), so ` +
        "every tunnel page is sandboxed: no cookies, storage or service workers, and its module " +
        "scripts and fetches of its own URLs are cross-origin requests (CORS); set " +
        "WSTUN_TUNNEL_URL_PREFIX=https://{id}.tunnels.example.com (a wildcard DNS name) to give " +
        "each tunnel an origin of its own (docs/tunnels.md)",
    );
  }
  return warnings;
}
