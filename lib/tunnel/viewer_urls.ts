/**
 * Where tunnel viewers are served (`WSTUN_TUNNEL_URL_PREFIX`), and so which origin a tunnel's
 * pages run on:
 *
 * - **Own origins** — `https://{id}.tunnels.example.com`: every tunnel on a host of its own (a
 *   wildcard DNS name pointing at WSTun). A tunnel's pages can touch only that origin, so they are
 *   passed through as the tunnel client sends them, as websocktunnel does. Ids must then be DNS
 *   labels (lower-case letters, digits, `-`, at most 63).
 * - **A shared origin** — the default `<WSTun origin>/t`, any other path prefix, or one host for
 *   every tunnel (`https://tunnels.example.com`): tunnels share an origin with WSTun or with each
 *   other, so lib/tunnel/shared_origin.ts sandboxes every response.
 *
 * @module
 */

/** Viewer paths on the server's own origin when no prefix is configured. */
export const DEFAULT_PREFIX_PATH = "/t";
/** The placeholder for the tunnel id in a per-tunnel host. */
export const ID_PLACEHOLDER = "{id}";
/** A DNS label: what a tunnel id must be when it names a host. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A viewer request: the tunnel id and the request target to send its client. */
export interface ViewerPath {
  id: string;
  /** Path after the id (at least `/`), query excluded. */
  path: string;
}

export interface ViewerUrls {
  /** Whether each tunnel has an origin of its own (no sandbox needed). */
  readonly ownOrigins: boolean;
  /** The viewer request `url` names, `"no_id"` for the prefix without an id, or null. */
  match(url: URL): ViewerPath | "no_id" | null;
  /** The public URL of tunnel `id`, as told to its client. */
  clientUrl(requestUrl: URL, id: string): string;
  /** The cookie path that covers tunnel `id`'s viewer URLs and nothing else. */
  cookiePath(id: string): string;
  /** Why `id` cannot be served here, if it cannot. */
  idProblem(id: string): string | undefined;
  /** The prefix as an operator wrote it (for logs). */
  readonly description: string;
}

/**
 * Why `prefix` is not a usable `WSTUN_TUNNEL_URL_PREFIX`, if it is not: `{id}` may only be the
 * whole first label of the host, with no path after the host.
 */
export function viewerPrefixProblem(prefix: string): string | undefined {
  if (!prefix.includes(ID_PLACEHOLDER)) return undefined;
  const url = new URL(prefix.replace(ID_PLACEHOLDER, "x"));
  const rest = prefix.slice(prefix.indexOf("://") + 3);
  if (!rest.startsWith(`${ID_PLACEHOLDER}.`) || rest.indexOf(ID_PLACEHOLDER, 1) >= 0) {
    return "{id} must be the first label of the host, like https://{id}.tunnels.example.com";
  }
  if (url.pathname !== "/" || url.search || url.hash) {
    return "a prefix with {id} in the host takes no path, like https://{id}.tunnels.example.com";
  }
  return undefined;
}

/** Viewer URLs for a configured prefix (undefined: `<request origin>/t`). */
export function viewerUrls(prefix: string | undefined): ViewerUrls {
  if (prefix === undefined) return pathPrefix(DEFAULT_PREFIX_PATH, undefined);
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed.includes(ID_PLACEHOLDER)) return perTunnelHosts(trimmed);
  const url = new URL(trimmed);
  const path = url.pathname.replace(/\/+$/, "");
  return path === "" ? oneHost(trimmed, url.host) : pathPrefix(path, trimmed);
}

/** `<origin><path>/<id>/…`, on any host (behind a proxy the origin may differ). */
function pathPrefix(prefixPath: string, configured: string | undefined): ViewerUrls {
  return {
    ownOrigins: false,
    description: configured ?? `<origin>${prefixPath}`,
    match(url) {
      const pathname = url.pathname;
      if (pathname !== prefixPath && !pathname.startsWith(prefixPath + "/")) return null;
      return idAndPath(pathname.slice(prefixPath.length));
    },
    clientUrl: (requestUrl, id) => `${configured ?? requestUrl.origin + prefixPath}/${id}`,
    cookiePath: (id) => `${prefixPath}/${id}/`,
    idProblem: () => undefined,
  };
}

/** `https://tunnels.example.com/<id>/…`: every path but `/` on that host. */
function oneHost(configured: string, host: string): ViewerUrls {
  return {
    ownOrigins: false,
    description: configured,
    match: (url) => url.host === host && url.pathname !== "/" ? idAndPath(url.pathname) : null,
    clientUrl: (_requestUrl, id) => `${configured}/${id}`,
    cookiePath: (id) => `/${id}/`,
    idProblem: () => undefined,
  };
}

/** `https://<id>.tunnels.example.com/…`: the id is the host's first label. */
function perTunnelHosts(configured: string): ViewerUrls {
  const template = new URL(configured.replace(ID_PLACEHOLDER, "x"));
  const suffix = template.host.slice(1); // ".tunnels.example.com[:port]"
  return {
    ownOrigins: true,
    description: configured,
    match(url) {
      const host = url.host.toLowerCase();
      if (!host.endsWith(suffix)) return null;
      const id = host.slice(0, -suffix.length);
      return DNS_LABEL.test(id) ? { id, path: url.pathname } : null;
    },
    clientUrl: (_requestUrl, id) => configured.replace(ID_PLACEHOLDER, id),
    cookiePath: () => "/",
    idProblem: (id) =>
      DNS_LABEL.test(id)
        ? undefined
        : "this server gives every tunnel a host of its own: ids must be DNS labels " +
          "(a-z, 0-9 and -, at most 63 characters)",
  };
}

function idAndPath(rest: string): ViewerPath | "no_id" {
  const slash = rest.indexOf("/", 1);
  const id = slash < 0 ? rest.slice(1) : rest.slice(1, slash);
  if (!id) return "no_id";
  return { id, path: slash < 0 ? "/" : rest.slice(slash) };
}
