/**
 * Regenerates the `files` list (path, size, SHA-256) of every manifest an index names, from the
 * files next to each manifest, and copies each manifest's version and description into its index
 * entry — so an author edits files, bumps the version and runs one command before publishing.
 * Every file in a manifest's folder (recursively) is listed, except the manifest itself and dot
 * files. The result is validated with the server's own schemas, so a bad path fails here, not at
 * install time.
 *
 *   deno task marketplace:hash                 # rewrite examples/marketplace
 *   deno task marketplace:hash path/to/market  # another marketplace folder (with index.json)
 *   deno task marketplace:hash --check         # exit 1 if anything is stale; writes nothing
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath as fromFileUrl } from "node:url";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describeSchemaIssue, Manifest, MarketplaceIndex } from "../../lib/marketplace/schema.ts";

/** What changed, per file written (or that would be written, with `check`). */
export interface HashReport {
  stale: string[];
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await listFiles(full));
    else if (entry.isFile) out.push(full);
  }
  return out;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** Rehashes the marketplace in `root` (the folder holding index.json). */
export async function hashMarketplace(
  root: string,
  options: { check?: boolean } = {},
): Promise<HashReport> {
  const stale: string[] = [];
  const write = async (path: string, before: string, after: string) => {
    if (before === after) return;
    stale.push(path);
    if (!options.check) await Deno.writeTextFile(path, after);
  };
  const indexPath = join(root, "index.json");
  const indexText = await Deno.readTextFile(indexPath);
  const index = MarketplaceIndex.parse(JSON.parse(indexText));
  const rawIndex = JSON.parse(indexText);
  for (const [i, entry] of index.services.entries()) {
    if (/^[a-z]+:/i.test(entry.manifest)) continue; // hosted elsewhere: not ours to hash
    const manifestPath = resolve(root, entry.manifest);
    const manifestText = await Deno.readTextFile(manifestPath);
    const raw = JSON.parse(manifestText);
    const folder = dirname(manifestPath);
    const files = [];
    for (const file of (await listFiles(folder)).sort()) {
      if (file === manifestPath) continue;
      const bytes = await Deno.readFile(file);
      files.push({
        path: relative(folder, file).split(sep).join("/"),
        sha256: createHash("sha256").update(bytes).digest("hex"),
        size: bytes.byteLength,
      });
    }
    raw.files = files;
    const checked = Manifest.safeParse(raw);
    if (!checked.success) {
      throw new Error(`${manifestPath}: ${describeSchemaIssue(checked.error)}`);
    }
    await write(manifestPath, manifestText, json(raw));
    rawIndex.services[i].version = raw.version;
    rawIndex.services[i].description = raw.description;
  }
  await write(indexPath, indexText, json(rawIndex));
  return { stale };
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const root = Deno.args.find((a) => !a.startsWith("--")) ??
    dirname(fromFileUrl(import.meta.url));
  const { stale } = await hashMarketplace(root, { check });
  for (const path of stale) console.log(`${check ? "stale" : "updated"}: ${path}`);
  if (check && stale.length > 0) {
    console.error("manifests are stale: run deno task marketplace:hash");
    Deno.exit(1);
  }
}
