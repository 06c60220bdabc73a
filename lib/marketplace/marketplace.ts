/**
 * The marketplace service: browses marketplace indexes, installs, updates and uninstalls services
 * into Deno KV, keeps the `ServiceCatalog` in step, and hands the routes the bytes to serve.
 *
 * What it guarantees:
 * - Nothing is written before the index, the manifest and every file have been fetched and checked
 *   (format, name rules, paths, caps, each file's size and SHA-256). A refused install leaves KV
 *   and the catalog as they were.
 * - A version becomes visible in one atomic KV switch (see store.ts); concurrent operations on the
 *   same name cannot both win (`conflict`). The replaced version's chunks are deleted afterwards.
 * - Uninstall removes the record first (its pages 404 from then on), then the catalog entry, then
 *   closes its running instances with reason `uninstalled`, then deletes its chunks.
 * - Every public operation returns a `Result`; nothing throws at the caller for expected failures.
 *
 * Injected: the KV handle, the transport (or a `fetch`), the resolver, the clock and the instance
 * closer.
 *
 * @module
 */
import { ulid } from "ulid";
import type { ServiceCatalog, ServiceInfo } from "../service_catalog.ts";
import { AddressPolicy, type ResolveHost } from "./address_policy.ts";
import { BundleFetcher, resolveManifestUrl, type VerifiedBundle } from "./bundle_fetcher.ts";
import { contentTypeFor } from "./content_type.ts";
import { DEFAULT_MARKETPLACE_LIMITS, type MarketplaceLimits } from "./config.ts";
import { WstunError } from "../errors/mod.ts";
import { MarketplaceFetcher } from "./fetcher.ts";
import { fetchTransport, type MarketplaceTransport, pinnedTransport } from "./pinned_transport.ts";
import { describeSchemaIssue, InstallRequest, ServiceName } from "./schema.ts";
import { ServiceNameRules } from "./service_name.ts";
import { type InstalledRecord, type InstallSource, MarketplaceStore } from "./store.ts";
import { isUpdate } from "./version_order.ts";

/** Closes every running instance of a service; the hub's `closeInstancesOfService`. */
export type CloseInstancesOfService = (name: string, reason: "uninstalled") => unknown;

export interface MarketplaceOptions {
  kv: Deno.Kv;
  catalog: ServiceCatalog;
  limits?: Partial<MarketplaceLimits>;
  /**
   * Makes each GET, connecting to the addresses the policy checked; default `pinnedTransport()`.
   * Tests inject one that never touches the network.
   */
  transport?: MarketplaceTransport;
  /**
   * A `fetch` to use instead of the pinned transport (tests, embedders). It resolves names
   * itself, so a rebinding DNS server could send it elsewhere than the check saw: prefer
   * `transport`. Ignored when `transport` is given.
   */
  fetch?: typeof fetch;
  /** Resolves host names for the address policy; default the system resolver. */
  resolveHost?: ResolveHost;
  /** Milliseconds since the epoch. */
  now?: () => number;
  closeInstancesOfService?: CloseInstancesOfService;
  /** First path segments the server uses besides the built-in list (e.g. a new route). */
  reservedNames?: readonly string[];
  /** Told the outcome of every install, update and uninstall (the server counts and logs it). */
  onOperation?: (operation: MarketplaceOperation) => void;
}

/** The outcome of one install, update or uninstall, as `onOperation` hears it. */
export interface MarketplaceOperation {
  operation: "install" | "update" | "uninstall";
  ok: boolean;
  /** The service, when known (a refused install may not have got as far as its name). */
  name?: string;
  /** The version now installed, after a successful install or update. */
  version?: string;
  /** The error code of a failure. */
  code?: string;
}

/** An installed service as `GET /_api/marketplace/installed` lists it. */
export interface InstalledService {
  name: string;
  version: string;
  description: string;
  /** The URL the admin installed from: an index URL or a manifest URL. */
  source: string;
  sourceKind: "index" | "manifest";
  manifest: string;
  installedAt: string;
  updatedAt: string;
}

/** One entry of a browsed index, marked against what is installed. */
export interface BrowsedService {
  name: string;
  version: string;
  description: string;
  /** Absolute manifest URL. */
  manifest: string;
  installed: boolean;
  installedVersion?: string;
  updateAvailable: boolean;
  /** False for names this server refuses (reserved); `reason` says why. */
  installable: boolean;
  reason?: string;
}

/** The outcome of a marketplace operation: a failure is a `WstunError` with a marketplace code. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: WstunError };

export interface BrowseResult {
  name: string;
  url: string;
  services: BrowsedService[];
}

export interface Installed {
  name: string;
  version: string;
}

export interface Updated extends Installed {
  previousVersion: string;
}

/** A file ready to serve. */
export interface ServedFile {
  /** The content; null when its hash is one the caller said it has (a revalidation: 304). */
  bytes: Uint8Array<ArrayBuffer> | null;
  contentType: string;
  sha256: string;
  version: string;
  /** Whether this is one of the two endpoint pages (the host page or the member page). */
  page: boolean;
}

export class Marketplace {
  readonly #store: MarketplaceStore;
  readonly #catalog: ServiceCatalog;
  readonly #limits: MarketplaceLimits;
  readonly #bundles: BundleFetcher;
  readonly #names: ServiceNameRules;
  readonly #now: () => number;
  readonly #closeInstances: CloseInstancesOfService;
  readonly #onOperation: (operation: MarketplaceOperation) => void;

  constructor(options: MarketplaceOptions) {
    this.#store = new MarketplaceStore(options.kv);
    this.#catalog = options.catalog;
    this.#limits = { ...DEFAULT_MARKETPLACE_LIMITS, ...options.limits };
    this.#names = new ServiceNameRules(options.reservedNames);
    const fetcher = new MarketplaceFetcher({
      transport: options.transport ??
        (options.fetch ? fetchTransport(options.fetch) : pinnedTransport()),
      policy: new AddressPolicy({
        allowPrivate: this.#limits.allowPrivate,
        resolve: options.resolveHost,
      }),
      timeoutMs: this.#limits.fetchTimeoutMs,
      maxRedirects: this.#limits.maxRedirects,
    });
    this.#bundles = new BundleFetcher(fetcher, this.#limits, this.#names);
    this.#now = options.now ?? Date.now;
    this.#closeInstances = options.closeInstancesOfService ?? (() => {});
    this.#onOperation = options.onOperation ?? (() => {});
  }

  get limits(): Readonly<MarketplaceLimits> {
    return this.#limits;
  }

  /**
   * Registers every installed service in the catalog (call once at start-up) and removes chunks
   * that no record names and that are older than `orphanAgeMs` (left by a crash mid-install; the
   * age keeps an install running in another isolate safe).
   */
  async load(orphanAgeMs = 60 * 60 * 1000): Promise<InstalledService[]> {
    const records = await this.syncCatalog();
    for (const orphan of await this.#store.orphanVersions()) {
      if (this.#now() - versionTime(orphan.versionId) >= orphanAgeMs) {
        await this.#store.deleteVersion(orphan.name, orphan.versionId);
      }
    }
    return records.map(toInstalledService);
  }

  /**
   * Makes the catalog match KV: registers every installed service and unregisters (closing their
   * instances with reason `uninstalled`) marketplace services that are no longer installed.
   */
  async syncCatalog(): Promise<InstalledRecord[]> {
    const records = await this.#store.list();
    const installed = new Set(records.map((r) => r.name));
    for (const record of records) this.#register(record);
    for (const service of this.#catalog.list()) {
      if (service.builtin || installed.has(service.name)) continue;
      this.#catalog.unregister(service.name);
      await this.#closeInstances(service.name, "uninstalled");
    }
    return records;
  }

  /**
   * Follows installs, updates and uninstalls made by other isolates (or servers) sharing this KV,
   * re-syncing the catalog after each; `onSync` runs after every sync. Stop it before closing KV.
   */
  watch(onSync?: () => void): { stop(): Promise<void> } {
    const reader = this.#store.watchChanges().getReader();
    const loop = (async () => {
      while (!(await reader.read()).done) {
        try {
          await this.syncCatalog();
        } catch (err) {
          // One failed sync must not end the watch (or the process); the next change retries.
          console.error("marketplace: catalog sync failed:", err);
          continue;
        }
        onSync?.();
      }
    })().catch((err) => {
      // The watch stream itself broke (KV closed under it): keep serving without it.
      console.error("marketplace: KV watch ended:", err);
    });
    return {
      stop: async () => {
        await reader.cancel();
        await loop;
      },
    };
  }

  async installed(): Promise<InstalledService[]> {
    return (await this.#store.list()).map(toInstalledService).sort((a, b) =>
      a.name.localeCompare(b.name)
    );
  }

  /** Reads an index and marks each entry installed / update available. */
  browse(rawUrl: string): Promise<Result<BrowseResult>> {
    return settle(async () => {
      const { index, url } = await this.#bundles.fetchIndex(rawUrl);
      const installed = new Map((await this.#store.list()).map((r) => [r.name, r.version]));
      const services = index.services.map((entry): BrowsedService => {
        const installedVersion = installed.get(entry.name);
        const problem = this.#names.problem(entry.name);
        return {
          name: entry.name,
          version: entry.version,
          description: entry.description,
          manifest: resolveManifestUrl(entry, url).href,
          installed: installedVersion !== undefined,
          ...(installedVersion !== undefined ? { installedVersion } : {}),
          updateAvailable: installedVersion !== undefined &&
            isUpdate(entry.version, installedVersion),
          installable: problem === undefined,
          ...(problem ? { reason: `${entry.name} is reserved on this server` } : {}),
        };
      });
      return { name: index.name, url: url.href, services };
    });
  }

  /** Installs a service that is not installed yet. */
  install(request: unknown): Promise<Result<Installed>> {
    return this.#reported("install", namedIn(request), this.#install(request));
  }

  /** Re-fetches an installed service from the source it was installed from and switches to it. */
  update(name: string): Promise<Result<Updated>> {
    return this.#reported("update", name, this.#update(name));
  }

  /** Removes a service, closes its running instances and deletes its files. */
  uninstall(name: string): Promise<Result<{ name: string }>> {
    return this.#reported("uninstall", name, this.#uninstall(name));
  }

  #install(request: unknown): Promise<Result<Installed>> {
    return settle(async () => {
      const parsed = InstallRequest.safeParse(request);
      if (!parsed.success) {
        throw new WstunError(
          "invalid_request",
          `body must be {"manifest": url} or {"url": indexUrl, "name": service}: ${
            describeSchemaIssue(parsed.error)
          }`,
        );
      }
      const source: InstallSource = "manifest" in parsed.data
        ? { kind: "manifest", url: parsed.data.manifest }
        : { kind: "index", url: parsed.data.url, name: parsed.data.name };
      if (source.kind === "index") this.#bundles.checkName(source.name);
      if (source.kind === "index" && await this.#store.get(source.name)) {
        throw alreadyInstalled(source.name);
      }

      // Refuse what can be refused from the manifest alone before fetching any file.
      const bundle = await this.#bundles.fetchBundle(source, undefined, async (manifest) => {
        if (await this.#store.get(manifest.name)) throw alreadyInstalled(manifest.name);
        if ((await this.#store.list()).length >= this.#limits.maxServices) {
          throw new WstunError(
            "limit_reached",
            `${this.#limits.maxServices} services are installed already (WSTUN_MARKETPLACE_MAX_SERVICES)`,
          );
        }
      });
      const at = new Date(this.#now()).toISOString();
      const record = await this.#commit(bundle, source, { installedAt: at, updatedAt: at }, null);
      return { name: record.name, version: record.version };
    });
  }

  #update(name: string): Promise<Result<Updated>> {
    return settle(async () => {
      const current = await this.#store.get(name);
      if (!current) throw notInstalled(name);
      const { record: old, versionstamp } = current;
      const bundle = await this.#bundles.fetchBundle(old.source, name);
      const record = await this.#commit(
        bundle,
        old.source,
        { installedAt: old.installedAt, updatedAt: new Date(this.#now()).toISOString() },
        versionstamp,
      );
      await this.#store.deleteVersion(name, old.versionId);
      return { name, version: record.version, previousVersion: old.version };
    });
  }

  #uninstall(name: string): Promise<Result<{ name: string }>> {
    return settle(async () => {
      const current = await this.#store.get(name);
      if (!current) throw notInstalled(name);
      if (!await this.#store.removeRecord(name, current.versionstamp)) throw conflict(name);
      this.#catalog.unregister(name);
      await this.#closeInstances(name, "uninstalled");
      await this.#store.deleteVersion(name, current.record.versionId);
      return { name };
    });
  }

  /** Tells `onOperation` how an operation ended, then hands its result on unchanged. */
  async #reported<T extends { name: string; version?: string }>(
    operation: MarketplaceOperation["operation"],
    name: string | undefined,
    outcome: Promise<Result<T>>,
  ): Promise<Result<T>> {
    const result = await outcome;
    this.#onOperation(
      result.ok
        ? { operation, ok: true, name: result.value.name, version: result.value.version }
        : { operation, ok: false, name, code: result.error.code },
    );
    return result;
  }

  /**
   * The file to serve for `/{name}/{path}`: `service` and `main` mean the manifest's endpoints.
   * `"no_service"` when nothing of that name is installed, `"no_file"` when it has no such file.
   */
  /**
   * An installed service's file. `cachedSha256` are the hashes the client already holds (its
   * `If-None-Match`): when the current file is one of them its chunks are not read at all.
   */
  async file(
    name: string,
    path: string,
    cachedSha256: readonly string[] = [],
  ): Promise<ServedFile | "no_service" | "no_file"> {
    // Two tries: an update may delete the version we read between reading the record and its chunks.
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await this.#store.get(name);
      if (!current) return "no_service";
      const { record } = current;
      const filePath = path === "service" || path === "main" ? record.endpoints[path] : path;
      const index = record.files.findIndex((f) => f.path === filePath);
      if (index < 0) return "no_file";
      const file = record.files[index];
      const cached = cachedSha256.includes(file.sha256);
      const bytes = cached ? null : await this.#store.readFile(record, index);
      if (!cached && bytes === null) continue;
      return {
        bytes,
        contentType: contentTypeFor(file.path),
        sha256: file.sha256,
        version: record.version,
        page: file.path === record.endpoints.service || file.path === record.endpoints.main,
      };
    }
    return "no_file";
  }

  /** Writes the chunks, then switches the record atomically; cleans up the chunks if it loses. */
  async #commit(
    bundle: VerifiedBundle,
    source: InstallSource,
    times: { installedAt: string; updatedAt: string },
    expectedVersionstamp: string | null,
  ): Promise<InstalledRecord> {
    const { manifest } = bundle;
    const record: InstalledRecord = {
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      source,
      manifestUrl: bundle.manifestUrl.href,
      ...times,
      versionId: ulid(this.#now()),
      endpoints: manifest.endpoints,
      files: manifest.files.map(({ path, sha256, size }) => ({ path, sha256, size })),
    };
    let switched = false;
    try {
      await this.#store.writeChunks(record.name, record.versionId, bundle.files);
      switched = await this.#store.switchTo(record, expectedVersionstamp);
    } finally {
      if (!switched) await this.#store.deleteVersion(record.name, record.versionId);
    }
    if (!switched) {
      throw expectedVersionstamp === null ? alreadyInstalled(record.name) : conflict(record.name);
    }
    this.#register(record);
    return record;
  }

  #register(record: InstalledRecord): void {
    this.#catalog.register(toServiceInfo(record));
  }
}

function toServiceInfo(record: InstalledRecord): ServiceInfo {
  return {
    name: record.name,
    builtin: false,
    description: record.description,
    endpoints: { service: `/${record.name}/service`, main: `/${record.name}/main` },
    version: record.version,
  };
}

function toInstalledService(record: InstalledRecord): InstalledService {
  return {
    name: record.name,
    version: record.version,
    description: record.description,
    source: record.source.url,
    sourceKind: record.source.kind,
    manifest: record.manifestUrl,
    installedAt: record.installedAt,
    updatedAt: record.updatedAt,
  };
}

/** The timestamp a ULID version id was made at. */
function versionTime(versionId: string): number {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let time = 0;
  for (const char of versionId.slice(0, 10)) time = time * 32 + alphabet.indexOf(char);
  return time;
}

function alreadyInstalled(name: string): WstunError {
  return new WstunError(
    "already_installed",
    `${name} is already installed; update it instead`,
  );
}

function notInstalled(name: string): WstunError {
  return new WstunError("not_installed", `no installed service is named ${name}`);
}

function conflict(name: string): WstunError {
  return new WstunError(
    "conflict",
    `${name} was changed by another operation at the same time; try again`,
  );
}

/** Runs `work`, turning a `WstunError` into a failed `Result`; other errors propagate. */
async function settle<T>(work: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (e) {
    if (e instanceof WstunError) return { ok: false, error: e };
    throw e;
  }
}

/** The service an install request names, when it names one as a valid service name (for the log). */
function namedIn(request: unknown): string | undefined {
  const name = (request as { name?: unknown } | null)?.name;
  return ServiceName.safeParse(name).success ? name as string : undefined;
}
