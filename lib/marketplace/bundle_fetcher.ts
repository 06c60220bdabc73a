/**
 * Fetches what an install needs and checks all of it before anything is stored: the index (when
 * installing by name), the manifest (format, name rules, caps from the declared sizes) and every
 * file (exact size and SHA-256). Each problem is a `WstunError` naming the URL, field or file.
 * It writes nothing; `Marketplace` commits a `VerifiedBundle` only once it is complete.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { parseMarketplaceUrl } from "./address_policy.ts";
import type { MarketplaceLimits } from "./config.ts";
import { type MarketplaceErrorKey, WstunError } from "../errors/mod.ts";
import type { MarketplaceFetcher } from "./fetcher.ts";
import { describeSchemaIssue, type IndexEntry, Manifest, MarketplaceIndex } from "./schema.ts";
import type { ServiceNameRules } from "./service_name.ts";
import type { InstallSource } from "./store.ts";

/** A manifest with every file fetched and verified, not yet written anywhere. */
export interface VerifiedBundle {
  manifest: Manifest;
  manifestUrl: URL;
  /** The files' bytes, in manifest order. */
  files: Uint8Array[];
}

export class BundleFetcher {
  readonly #fetcher: MarketplaceFetcher;
  readonly #limits: MarketplaceLimits;
  readonly #names: ServiceNameRules;

  constructor(fetcher: MarketplaceFetcher, limits: MarketplaceLimits, names: ServiceNameRules) {
    this.#fetcher = fetcher;
    this.#limits = limits;
    this.#names = names;
  }

  /** Fetches and validates a marketplace index; `url` is where it finally came from. */
  async fetchIndex(rawUrl: string): Promise<{ index: MarketplaceIndex; url: URL }> {
    const url = parseMarketplaceUrl(rawUrl);
    const { json, finalUrl } = await this.#fetchJson(url, "invalid_index", "index");
    const parsed = MarketplaceIndex.safeParse(json);
    if (!parsed.success) {
      throw new WstunError("invalid_index", `index: ${describeSchemaIssue(parsed.error)}`, {
        url: url.href,
      });
    }
    return { index: parsed.data, url: finalUrl };
  }

  /**
   * Fetches the manifest named by `source` and every file in it, checking everything; `beforeFiles`
   * may refuse (by throwing) from the manifest alone, before any file is fetched.
   */
  async fetchBundle(
    source: InstallSource,
    expectedName?: string,
    beforeFiles?: (manifest: Manifest) => Promise<void>,
  ): Promise<VerifiedBundle> {
    let manifestUrl: URL;
    if (source.kind === "index") {
      const { index, url } = await this.fetchIndex(source.url);
      const entry = index.services.find((s) => s.name === source.name);
      if (!entry) {
        throw new WstunError(
          "not_in_index",
          // Not index.name: messages never quote what a marketplace sent.
          `the index has no service named ${source.name}`,
          {
            url: url.href,
          },
        );
      }
      manifestUrl = resolveManifestUrl(entry, url);
      expectedName ??= source.name;
    } else {
      manifestUrl = parseMarketplaceUrl(source.url);
    }
    const { json, finalUrl } = await this.#fetchJson(manifestUrl, "invalid_manifest", "manifest");
    const parsed = Manifest.safeParse(json);
    if (!parsed.success) {
      throw new WstunError(
        "invalid_manifest",
        `manifest: ${describeSchemaIssue(parsed.error)}`,
        {
          url: manifestUrl.href,
        },
      );
    }
    const manifest = parsed.data;
    this.checkName(manifest.name);
    if (expectedName !== undefined && manifest.name !== expectedName) {
      throw new WstunError(
        "name_mismatch",
        `the manifest is for ${manifest.name}, not ${expectedName}`,
        { url: manifestUrl.href },
      );
    }
    this.#checkCaps(manifest, manifestUrl);
    await beforeFiles?.(manifest);
    const files: Uint8Array[] = [];
    for (const file of manifest.files) files.push(await this.#fetchFile(file, finalUrl));
    return { manifest, manifestUrl, files };
  }

  async #fetchJson(
    url: URL,
    code: MarketplaceErrorKey,
    what: string,
  ): Promise<{ json: unknown; finalUrl: URL }> {
    const max = this.#limits.maxDocumentBytes;
    const fetched = await this.#fetcher.fetchBytes(
      url,
      max,
      () =>
        new WstunError(
          code,
          `the ${what} is larger than ${max} bytes (WSTUN_MARKETPLACE_MAX_DOCUMENT_BYTES)`,
          {
            url: url.href,
          },
        ),
    );
    return { json: parseJson(fetched.bytes, code, what, url), finalUrl: fetched.url };
  }

  checkName(name: string): void {
    const problem = this.#names.problem(name);
    if (problem === "invalid_name") {
      throw new WstunError(
        "invalid_name",
        `${name}: must be 1-40 lowercase letters, digits or '-'`,
      );
    }
    if (problem === "reserved_name") {
      throw new WstunError(
        "reserved_name",
        `${name} is the name of a built-in service or a server route and cannot be installed`,
      );
    }
  }

  /** Refuses, from the declared sizes alone, a bundle that breaks a cap — before fetching any file. */
  #checkCaps(manifest: Manifest, url: URL): void {
    const { maxFiles, maxFileBytes, maxTotalBytes } = this.#limits;
    if (manifest.files.length > maxFiles) {
      throw new WstunError(
        "too_many_files",
        `the manifest lists ${manifest.files.length} files; at most ${maxFiles} are allowed (WSTUN_MARKETPLACE_MAX_FILES)`,
        { url: url.href },
      );
    }
    let total = 0;
    for (const file of manifest.files) {
      if (file.size > maxFileBytes) {
        throw new WstunError(
          "file_too_large",
          `${file.path} is ${file.size} bytes; at most ${maxFileBytes} are allowed (WSTUN_MARKETPLACE_MAX_FILE_BYTES)`,
          { url: url.href, path: file.path },
        );
      }
      total += file.size;
    }
    if (total > maxTotalBytes) {
      throw new WstunError(
        "bundle_too_large",
        `the files total ${total} bytes; at most ${maxTotalBytes} are allowed (WSTUN_MARKETPLACE_MAX_TOTAL_BYTES)`,
        { url: url.href },
      );
    }
  }

  /** Fetches one file and checks it against its declared size and SHA-256. */
  async #fetchFile(file: Manifest["files"][number], manifestUrl: URL): Promise<Uint8Array> {
    const url = new URL(file.path, manifestUrl);
    const where = { url: url.href, path: file.path };
    const { bytes } = await this.#fetcher.fetchBytes(
      url,
      file.size,
      () =>
        new WstunError(
          "size_mismatch",
          `${file.path} is larger than the ${file.size} bytes the manifest declares`,
          where,
        ),
    );
    if (bytes.byteLength !== file.size) {
      throw new WstunError(
        "size_mismatch",
        `${file.path} is ${bytes.byteLength} bytes; the manifest declares ${file.size}`,
        where,
      );
    }
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== file.sha256) {
      throw new WstunError(
        "hash_mismatch",
        `${file.path} has SHA-256 ${sha256}; the manifest declares ${file.sha256}`,
        where,
      );
    }
    return bytes;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a fetched document. The message never quotes the document: V8's JSON errors do (`…
 * "// Poll ho"… is not valid JSON`), and a URL that is not a marketplace may serve something
 * private. Only the position V8 reports, if any, is kept.
 */
function parseJson(bytes: Uint8Array, code: MarketplaceErrorKey, what: string, url: URL): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new WstunError(code, `the ${what} is not UTF-8 text`, { url: url.href });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const position = /\bat position (\d+)/.exec((e as Error).message)?.[1];
    const where = position === undefined ? "" : ` (at character ${position})`;
    throw new WstunError(code, `the ${what} is not valid JSON${where}`, { url: url.href });
  }
}

/** An index entry's manifest URL, resolved against the index's own URL. */
export function resolveManifestUrl(entry: IndexEntry, indexUrl: URL): URL {
  return parseMarketplaceUrl(entry.manifest, indexUrl);
}
