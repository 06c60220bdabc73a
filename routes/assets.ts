/**
 * The files WSTun serves itself: static/ (libwstun.js, the stylesheet) and the built-in services'
 * pages in services/<name>/, put in their shared skeleton (routes/service_page.ts). They are read
 * once at start-up, through paths relative to this module (so it works on Deno Deploy and from
 * any working directory), and served from memory: a request can only ever name a file in that
 * table, so no path can escape it.
 *
 * @module
 */
import { getMimeType } from "hono/utils/mime";
import { renderServicePage } from "./service_page.ts";

/** One file, ready to serve. */
export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

/** URL path → asset, e.g. `/libwstun.js`, `/static/wstun.css`, `/chat/service`, `/chat/chat.js`. */
export type AssetTable = Map<string, Asset>;

const ROOT = new URL("../", import.meta.url);

async function readDir(dir: URL, urlPrefix: string, table: AssetTable): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || entry.name.startsWith(".")) continue;
    const body = await Deno.readFile(new URL(entry.name, dir));
    const type = getMimeType(entry.name) ?? "application/octet-stream";
    table.set(`${urlPrefix}/${entry.name}`, { body, type });
  }
}

/** Loads static/ and every built-in service's folder. */
export async function loadAssets(services: readonly string[]): Promise<AssetTable> {
  const table: AssetTable = new Map();
  await readDir(new URL("static/", ROOT), "/static", table);
  const lib = table.get("/static/libwstun.js");
  if (lib) table.set("/libwstun.js", lib);
  for (const name of services) {
    await readDir(new URL(`services/${name}/`, ROOT), `/${name}`, table);
    // Page files hold only what is their own; the shared skeleton is added once, here. Pages are
    // reached with or without their extension: /chat/service, /chat/main.
    for (const page of ["service", "main"] as const) {
      const file = table.get(`/${name}/${page}.html`);
      if (!file) continue;
      const html = renderServicePage(name, page, new TextDecoder().decode(file.body));
      const rendered = { body: new TextEncoder().encode(html), type: file.type };
      table.set(`/${name}/${page}.html`, rendered);
      table.set(`/${name}/${page}`, rendered);
    }
  }
  return table;
}
