/**
 * HTML pages rendered by the server: the info page (`/`). (The admin page is static/admin/, served
 * by routes/admin.ts.) Every value interpolated goes through hono/html's escaping; instance tokens
 * never appear.
 *
 * @module
 */
import { Hono } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Hub } from "../lib/hub/mod.ts";
import type { ServiceCatalog } from "../lib/service_catalog.ts";
import type { Stats } from "../lib/stats.ts";
import { VERSION } from "../lib/version.ts";
import { PAGE_HEADERS } from "./page_headers.ts";

export interface PageDeps {
  hub: Hub;
  catalog: ServiceCatalog;
  stats: Stats;
  now: () => number;
}

function layout(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title}</title>
        <link rel="stylesheet" href="/static/wstun.css">
        <link rel="icon" href="data:,">
      </head>
      <body>
        <main class="page">${body}</main>
      </body>
    </html>
  `;
}

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
  const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

export function pageRoutes({ hub, catalog, stats, now }: PageDeps): Hono {
  const pages = new Hono();

  pages.get("/", async (c) => {
    const instances = (await hub.listEverywhere()).length;
    const uptime = formatUptime(Math.round((now() - stats.startedAt) / 1000));
    const services = catalog.list().filter((s) => !s.headless);
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
    return c.html(layout(
      "WSTun",
      html`
        <h1>WSTun <small>${VERSION}</small></h1>
        <p>A WebSocket relay hub: pages and command-line clients reach each other through it.</p>
        <dl class="stats">
          <div>
            <dt>Uptime</dt>
            <dd id="uptime">${uptime}</dd>
          </div>
          <div>
            <dt>Connections</dt>
            <dd id="connections">${stats.connections}</dd>
          </div>
          <div>
            <dt>Instances</dt>
            <dd id="instances">${instances}</dd>
          </div>
          <div>
            <dt>Messages relayed</dt>
            <dd>${stats.messagesRelayed}</dd>
          </div>
        </dl>
        <h2>Services</h2>
        <ul class="services">
        ${services.map((s) =>
          html`<li><strong>${s.name}</strong>${s.builtin ? " (built in)" : ""} — ${s.description}
  <a href="${s.endpoints.service}">host a room</a> · <a href="${s.endpoints.main}">join a room</a></li>`
        )}
        </ul>
        <p><a href="/admin">Admin</a> · <a href="/libwstun.js">libwstun.js</a> ·
        <a href="/_api/stats">stats (JSON)</a></p>
      `,
    ));
  });

  return pages;
}
