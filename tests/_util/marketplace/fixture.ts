/**
 * Test fixtures for the marketplace: a real loopback HTTP server serving a copy of
 * examples/marketplace (which a test may edit before or between requests), and a real WSTun
 * server on port 0 whose Deno KV the test can inspect.
 *
 * Special paths on the marketplace server: `/redirect/{n}/{path}` redirects n times, then to
 * `/{path}`; `/stall` answers headers and then never finishes the body (for time-outs).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { ServiceCatalog } from "../../../lib/service_catalog.ts";
import { type Config, defaultConfig } from "../../../lib/config.ts";
import {
  DEFAULT_MARKETPLACE_LIMITS,
  type Marketplace,
  type MarketplaceLimits,
} from "../../../lib/marketplace/mod.ts";
import { createServer, type ServerOptions, type WstunServer } from "../../../routes/app.ts";
import { hashMarketplace } from "../../../examples/marketplace/hash_manifests.ts";

export const EXAMPLE_DIR = join(
  dirname(fromFileUrl(import.meta.url)),
  "../../../examples/marketplace",
);
export const ADMIN_TOKEN = "admin-secret-for-tests";

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const [src, dst] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory) await copyDir(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

/** A loopback marketplace serving a private copy of the example marketplace. */
export class MarketplaceServer {
  readonly root: string;
  readonly requests: string[] = [];
  /** The `Host` header of each request, in order. */
  readonly hosts: string[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  #stalled = new Set<ReadableStreamDefaultController<Uint8Array>>();

  private constructor(root: string, hostname: string) {
    this.root = root;
    this.#server = Deno.serve(
      { hostname, port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  /** Listens on `hostname` (a loopback address: 127.0.0.1 unless a test needs another). */
  static async start(hostname = "127.0.0.1"): Promise<MarketplaceServer> {
    const root = await Deno.makeTempDir({ prefix: "wstun-marketplace-" });
    await copyDir(EXAMPLE_DIR, root);
    return new MarketplaceServer(root, hostname);
  }

  get port(): number {
    return this.#server.addr.port;
  }

  get origin(): string {
    return `http://${this.#server.addr.hostname}:${this.#server.addr.port}`;
  }

  get indexUrl(): string {
    return `${this.origin}/index.json`;
  }

  url(path: string): string {
    return `${this.origin}/${path}`;
  }

  async writeText(path: string, text: string): Promise<void> {
    await Deno.mkdir(dirname(join(this.root, path)), { recursive: true });
    await Deno.writeTextFile(join(this.root, path), text);
  }

  async readJson<T = Record<string, unknown>>(path: string): Promise<T> {
    return JSON.parse(await Deno.readTextFile(join(this.root, path)));
  }

  async writeJson(path: string, value: unknown): Promise<void> {
    await this.writeText(path, JSON.stringify(value, null, 2) + "\n");
  }

  /** Recomputes hashes and sizes after an edit, as an honest author would. */
  async rehash(): Promise<void> {
    await hashMarketplace(this.root);
  }

  async close(): Promise<void> {
    for (const controller of this.#stalled) controller.error(new Error("server closing"));
    await this.#server.shutdown();
    await Deno.remove(this.root, { recursive: true });
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    this.requests.push(path);
    this.hosts.push(request.headers.get("host") ?? "");
    const redirect = path.match(/^\/redirect\/(\d+)\/(.*)$/);
    if (redirect) {
      const n = Number(redirect[1]);
      const next = n > 1 ? `/redirect/${n - 1}/${redirect[2]}` : `/${redirect[2]}`;
      return new Response(null, { status: 302, headers: { location: next } });
    }
    if (path === "/stall") {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          this.#stalled.add(controller);
          controller.enqueue(new TextEncoder().encode("{"));
        },
        cancel: () => {},
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    }
    try {
      const bytes = await Deno.readFile(join(this.root, decodeURIComponent(path)));
      return new Response(bytes);
    } catch {
      return new Response("not found", { status: 404 });
    }
  }
}

/** A real WSTun server (hub, catalog, marketplace, every route) on port 0, with the KV it uses. */
export class MarketplaceApp {
  readonly kv: Deno.Kv;
  readonly server: WstunServer;
  #http: Deno.HttpServer<Deno.NetAddr>;

  private constructor(kv: Deno.Kv, server: WstunServer) {
    this.kv = kv;
    this.server = server;
    this.#http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, server.fetch);
  }

  /**
   * Opens `kvPath` (":memory:" by default) and starts a server on it; installed services load.
   * Private marketplaces are allowed unless `limits` says otherwise: the fixture's marketplace is
   * on loopback, as the README's local example is (which sets WSTUN_MARKETPLACE_ALLOW_PRIVATE).
   */
  static async start(
    options: {
      kvPath?: string;
      adminToken?: string | null;
      limits?: Partial<MarketplaceLimits>;
      config?: Partial<Config>;
    } & ServerOptions = {},
  ): Promise<MarketplaceApp> {
    const { kvPath = ":memory:", adminToken = ADMIN_TOKEN, limits, config, ...serverOptions } =
      options;
    const kv = await Deno.openKv(kvPath);
    const server = await createServer(
      defaultConfig({
        hostname: "127.0.0.1",
        port: 0,
        adminToken: adminToken ?? undefined,
        marketplace: { ...DEFAULT_MARKETPLACE_LIMITS, allowPrivate: true, ...limits },
        ...config,
      }),
      { kv, ...serverOptions },
    );
    return new MarketplaceApp(kv, server);
  }

  get catalog(): ServiceCatalog {
    return this.server.catalog;
  }

  get marketplace(): Marketplace {
    return this.server.marketplace;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#http.addr.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#http.addr.port}/_ws`;
  }

  /** An admin API call; `token: null` sends no Authorization header. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = ADMIN_TOKEN,
  ): Promise<
    { status: number; json: Record<string, unknown> & { error?: string; message?: string } }
  > {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.origin}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : {} };
  }

  /** Every record and chunk key in KV, as strings — to prove nothing was left behind. */
  async storedKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const entry of this.kv.list({ prefix: ["marketplace"] })) {
      // The change counter is not a service's data.
      if (entry.key[1] !== "generation") keys.push(entry.key.join("/"));
    }
    return keys;
  }

  async close(): Promise<void> {
    await this.#http.shutdown();
    await this.server.shutdown();
    this.kv.close();
  }
}
