/**
 * What a tunnel's responses may do when each tunnel has a host of its own
 * (`WSTUN_TUNNEL_URL_PREFIX` with `{id}`, lib/tunnel/viewer_urls.ts): anything on its own host,
 * nothing on its siblings'. Two headers reach past one host, to every host of the registrable
 * domain (`example.com` for `wstun.example.com` and `{id}.tunnels.example.com`):
 *
 * - `Set-Cookie` with a `Domain` attribute: the cookie is sent to every host of that domain, so a
 *   tunnel could plant one beside WSTun's own session cookie or another tunnel's. Such cookies are
 *   dropped; host-only cookies (no `Domain`, what most apps set) pass.
 * - `Clear-Site-Data: "cookies"` (and `"*"`) clears the cookies of the whole registrable domain,
 *   WSTun's session included. Those two directives are dropped; `"cache"`, `"storage"` and
 *   `"executionContexts"` are the tunnel's own origin's and pass.
 *
 * A page can still set a `Domain` cookie from script; WSTun's session cookie is `__Host-` over
 * https (no host can set or shadow one) and every value of it is checked (routes/server_auth.ts).
 * Tunnels on a registrable domain of their own reach nothing of WSTun's at all (docs/tunnels.md).
 *
 * @module
 */

/** The headers of a tunnel response as a host of its own serves them. */
export function ownOriginHeaders(headers: Headers): Headers {
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) {
    headers.delete("set-cookie");
    for (const cookie of cookies) if (!namesDomain(cookie)) headers.append("set-cookie", cookie);
  }
  const clear = headers.get("clear-site-data");
  if (clear !== null) {
    const kept = clear.split(",").map((d) => d.trim())
      .filter((d) => d !== "" && !/^"(cookies|\*)"$/i.test(d));
    if (kept.length > 0) headers.set("clear-site-data", kept.join(", "));
    else headers.delete("clear-site-data");
  }
  return headers;
}

/** Whether a `Set-Cookie` value has a `Domain` attribute (any case, any spacing). */
function namesDomain(cookie: string): boolean {
  return cookie.split(";").slice(1).some((attribute) => /^\s*domain\s*=/i.test(attribute));
}
