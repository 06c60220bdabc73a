/**
 * Test fixtures for the marketplace: a real loopback HTTP server serving a copy of
 * examples/marketplace (which a test may edit before or between requests), and a real WSTun
 * marketplace stack (Deno KV, catalog, routes) on port 0.
 *
 * Special paths on the marketplace server: `/redirect/{n}/{path}` redirects n times, then to
 * `/{path}`; `/stall` answers headers and then never finishes the body (for time-outs).
 *
 * @module
 */
import { Hono } from "hono";
import { dirname, join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { ServiceCatalog } from "../../lib/service_catalog.ts";
import { Marketplace, type MarketplaceOptions } from "../../lib/marketplace/mod.ts";
import { createMarketplaceRoutes } from "../../routes/marketplace.ts";
import { hashMarketplace } from "../../examples/marketplace/hash_manifests.ts";

export const EXAMPLE_DIR = join(
  dirname(fromFileUrl(import.meta.url)),
  "../../examples/marketplace",
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
  #server: Deno.HttpServer<Deno.NetAddr>;
  #stalled = new Set<ReadableStreamDefaultController<Uint8Array>>();

  private constructor(root: string) {
    this.root = root;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  static async start(): Promise<MarketplaceServer> {
    const root = await Deno.makeTempDir({ prefix: "wstun-marketplace-" });
    await copyDir(EXAMPLE_DIR, root);
    return new MarketplaceServer(root);
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
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

/** A WSTun marketplace stack: KV, catalog, Marketplace and its routes, served on port 0. */
export class MarketplaceApp {
  readonly kv: Deno.Kv;
  readonly catalog: ServiceCatalog;
  readonly marketplace: Marketplace;
  readonly closed: { name: string; reason: string }[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(
    kv: Deno.Kv,
    options: Partial<MarketplaceOptions>,
    adminToken: string | undefined,
  ) {
    this.kv = kv;
    this.catalog = new ServiceCatalog();
    this.marketplace = new Marketplace({
      kv,
      catalog: this.catalog,
      closeInstancesOfService: (name, reason) => this.closed.push({ name, reason }),
      ...options,
    });
    const app = new Hono();
    app.route("/", createMarketplaceRoutes({ marketplace: this.marketplace, adminToken }));
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  }

  /** Opens `kvPath` (":memory:" by default), loads installed services and starts serving. */
  static async start(
    options: { kvPath?: string; adminToken?: string | null } & Partial<MarketplaceOptions> = {},
  ): Promise<MarketplaceApp> {
    const { kvPath = ":memory:", adminToken = ADMIN_TOKEN, ...rest } = options;
    const kv = await Deno.openKv(kvPath);
    const app = new MarketplaceApp(kv, rest, adminToken ?? undefined);
    await app.marketplace.load();
    return app;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
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
    await this.#server.shutdown();
    this.kv.close();
  }
}
