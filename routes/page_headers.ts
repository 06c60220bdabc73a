/**
 * The security headers of WSTun's own pages (the info page and the built-in services' HTML): only
 * this server's scripts, styles and sockets, no framing (no clickjacking of a host page), and no
 * `Referer` at all, so a `?token=` in a page's URL never leaks to a link's target. /admin has its
 * own, stricter set (routes/admin.ts); marketplace pages are sandboxed (routes/marketplace.ts).
 *
 * @module
 */

/** The Content-Security-Policy of WSTun's own pages. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** Headers every WSTun page is served with. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": PAGE_CSP,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};
