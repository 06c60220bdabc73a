/**
 * Content types for marketplace files, decided by the file's extension alone — never by sniffing
 * the bytes, and never by what the marketplace's server said. Unknown extensions are served as
 * `application/octet-stream`, which a browser (with `nosniff`) will not run or render.
 *
 * @module
 */

/** By extension. A Map: extensions come from a manifest, and a plain object would also answer
 * `constructor` or `__proto__` with what Object.prototype holds. */
const TYPES: ReadonlyMap<string, string> = new Map([
  ["html", "text/html; charset=utf-8"],
  ["htm", "text/html; charset=utf-8"],
  ["js", "text/javascript; charset=utf-8"],
  ["mjs", "text/javascript; charset=utf-8"],
  ["css", "text/css; charset=utf-8"],
  ["json", "application/json"],
  ["txt", "text/plain; charset=utf-8"],
  ["md", "text/markdown; charset=utf-8"],
  ["svg", "image/svg+xml"],
  ["png", "image/png"],
  ["jpg", "image/jpeg"],
  ["jpeg", "image/jpeg"],
  ["gif", "image/gif"],
  ["webp", "image/webp"],
  ["avif", "image/avif"],
  ["ico", "image/x-icon"],
  ["woff", "font/woff"],
  ["woff2", "font/woff2"],
  ["wasm", "application/wasm"],
  ["mp3", "audio/mpeg"],
  ["ogg", "audio/ogg"],
  ["wav", "audio/wav"],
  ["mp4", "video/mp4"],
  ["webm", "video/webm"],
]);

/** The Content-Type to serve `path` with. */
export function contentTypeFor(path: string): string {
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return "application/octet-stream";
  return TYPES.get(path.slice(dot + 1).toLowerCase()) ?? "application/octet-stream";
}
