/**
 * The two formats other people depend on: the marketplace index and the service manifest
 * (documented in docs/services.md), plus the bodies of the marketplace API. Unknown fields are
 * ignored so the formats can grow without breaking older servers.
 *
 * A manifest that parses here has canonical file paths: relative, `/`-separated, no `.`/`..`
 * segments, no backslashes, no duplicates; both endpoints name listed files. Sizes and hashes are
 * only declared here; the installer checks the real bytes against them.
 *
 * @module
 */
import { z } from "zod";
import { SERVICE_NAME_PATTERN } from "./service_name.ts";

const NAME_MESSAGE = "must be 1-40 lowercase letters, digits or '-'";

/** A service name as the formats carry it (reserved names are refused later, with their own code). */
export const ServiceName = z.string().regex(SERVICE_NAME_PATTERN, NAME_MESSAGE);

/** Version strings are free-form (semver recommended) but short and printable. */
export const Version = z.string().min(1).max(40).regex(/^[\x21-\x7e]+$/, "must be printable ASCII");

const Description = z.string().max(500);

/** One segment of a file path: letters, digits, `.`, `_`, `~`, `-`; never `.` or `..`. */
const SEGMENT = /^[A-Za-z0-9._~-]+$/;
export const MAX_PATH_LENGTH = 200;
export const MAX_PATH_DEPTH = 8;

/**
 * Why `path` is not a canonical relative file path, or `undefined` when it is. A leading `./` is
 * not accepted either: the manifest must say exactly the path the file is served under.
 */
export function filePathProblem(path: string): string | undefined {
  if (path.length === 0) return "must not be empty";
  if (path.length > MAX_PATH_LENGTH) return `must be at most ${MAX_PATH_LENGTH} characters`;
  if (path.includes("\\")) return "must not contain a backslash";
  if (path.startsWith("/")) return "must be relative (no leading '/')";
  const segments = path.split("/");
  if (segments.length > MAX_PATH_DEPTH) return `must be at most ${MAX_PATH_DEPTH} segments deep`;
  for (const segment of segments) {
    if (segment === "") return "must not contain empty segments ('//' or a trailing '/')";
    if (segment === "." || segment === "..") return "must not contain '.' or '..' segments";
    if (!SEGMENT.test(segment)) {
      return "may only contain letters, digits, '.', '_', '~', '-' and '/' between segments";
    }
  }
  return undefined;
}

/** A file path of a manifest; see `filePathProblem`. */
export const FilePath = z.string().superRefine((path, ctx) => {
  const problem = filePathProblem(path);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const ManifestFile = z.object({
  path: FilePath,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
  size: z.number().int().nonnegative(),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/** Paths that `/{name}/service` and `/{name}/main` already mean; a file cannot take them. */
const ENDPOINT_ROUTES = new Set(["service", "main"]);

/** A service manifest: what to fetch, and what each file must hash to. */
export const Manifest = z.object({
  name: ServiceName,
  version: Version,
  description: Description,
  endpoints: z.object({ service: FilePath, main: FilePath }),
  files: z.array(ManifestFile).min(1),
}).superRefine((manifest, ctx) => {
  const seen = new Set<string>();
  manifest.files.forEach((file, i) => {
    if (seen.has(file.path)) {
      ctx.addIssue({
        code: "custom",
        path: ["files", i, "path"],
        message: `duplicate ${file.path}`,
      });
    }
    if (ENDPOINT_ROUTES.has(file.path)) {
      ctx.addIssue({
        code: "custom",
        path: ["files", i, "path"],
        message: `'${file.path}' is the URL of an endpoint; give the file an extension`,
      });
    }
    seen.add(file.path);
  });
  for (const endpoint of ["service", "main"] as const) {
    if (!seen.has(manifest.endpoints[endpoint])) {
      ctx.addIssue({
        code: "custom",
        path: ["endpoints", endpoint],
        message: `${manifest.endpoints[endpoint]} is not in files`,
      });
    }
  }
});
export type Manifest = z.infer<typeof Manifest>;

/** One service an index offers; `manifest` is a URL relative to the index's URL. */
export const IndexEntry = z.object({
  name: ServiceName,
  version: Version,
  description: Description,
  manifest: z.string().min(1).max(2048),
});
export type IndexEntry = z.infer<typeof IndexEntry>;

/** A marketplace index. */
export const MarketplaceIndex = z.object({
  name: z.string().min(1).max(100),
  services: z.array(IndexEntry).max(1000),
});
export type MarketplaceIndex = z.infer<typeof MarketplaceIndex>;

/** `POST /_api/marketplace/install`: a manifest URL, or an index URL and a name in it. */
export const InstallRequest = z.union([
  z.object({ manifest: z.string().min(1).max(2048) }).strict(),
  z.object({ url: z.string().min(1).max(2048), name: ServiceName }).strict(),
]);
export type InstallRequest = z.infer<typeof InstallRequest>;

/** `POST /_api/marketplace/update`. */
export const UpdateRequest = z.object({ name: ServiceName });
export type UpdateRequest = z.infer<typeof UpdateRequest>;

/** Turns a zod failure into one line naming the field, e.g. `files.2.sha256: must be 64 …`. */
export function describeSchemaIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const where = issue.path.length ? issue.path.join(".") : "document";
  return `${where}: ${issue.message}`;
}
