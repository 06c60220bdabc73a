/**
 * Marketplace failures as values: every way an install, update, browse or uninstall can fail has a
 * code here, and every code has exactly one HTTP status (`MARKETPLACE_ERROR_STATUS`), applied at the
 * edge in routes/marketplace.ts. Validation failures of what a marketplace sent are 422; a
 * marketplace that cannot be reached or answers badly is 502.
 *
 * Inside lib/marketplace a failure is thrown as a `MarketplaceError` (so deep code can stop at the
 * first problem) and caught once, at the `Marketplace` boundary, where it becomes a `Result`.
 *
 * @module
 */

/** Codes carried by `{"error": code, "message"}` bodies of the marketplace API. */
export const MarketplaceErrorCode = {
  /** The request body or query of our own API is malformed. */
  InvalidRequest: "invalid_request",
  /** A URL is not absolute http(s), or carries credentials. */
  InvalidUrl: "invalid_url",
  /** A URL resolves to a loopback or private address and `WSTUN_MARKETPLACE_ALLOW_PRIVATE=false`. */
  PrivateAddress: "private_address",
  /** The index is not JSON or does not match the index format. */
  InvalidIndex: "invalid_index",
  /** The manifest is not JSON or does not match the manifest format. */
  InvalidManifest: "invalid_manifest",
  /** A service name breaks the name rules. */
  InvalidName: "invalid_name",
  /** A service name belongs to a built-in service or to one of the server's own routes. */
  ReservedName: "reserved_name",
  /** The index has no service of the requested name. */
  NotInIndex: "not_in_index",
  /** The manifest's name differs from the name it was installed or listed under. */
  NameMismatch: "name_mismatch",
  /** A file path is absolute, has `..`, a backslash or characters outside the allowed set. */
  InvalidPath: "invalid_path",
  /** A file is bigger than `WSTUN_MARKETPLACE_MAX_FILE_BYTES`. */
  FileTooLarge: "file_too_large",
  /** The files together are bigger than `WSTUN_MARKETPLACE_MAX_TOTAL_BYTES`. */
  BundleTooLarge: "bundle_too_large",
  /** The manifest lists more than `WSTUN_MARKETPLACE_MAX_FILES` files. */
  TooManyFiles: "too_many_files",
  /** A file's length differs from the size its manifest declares. */
  SizeMismatch: "size_mismatch",
  /** A file's SHA-256 differs from the hash its manifest declares. */
  HashMismatch: "hash_mismatch",
  /** The marketplace could not be reached (DNS, connection, time-out). */
  Unreachable: "unreachable",
  /** The marketplace answered with a non-2xx status or too many redirects. */
  UpstreamFailed: "upstream_failed",
  /** The service is already installed (use update). */
  AlreadyInstalled: "already_installed",
  /** No installed service has that name. */
  NotInstalled: "not_installed",
  /** Another install, update or uninstall of the same service committed first. */
  Conflict: "conflict",
  /** `WSTUN_MARKETPLACE_MAX_SERVICES` services are installed already. */
  LimitReached: "limit_reached",
} as const;
export type MarketplaceErrorCode = typeof MarketplaceErrorCode[keyof typeof MarketplaceErrorCode];

/** The one HTTP status each code maps to. */
export const MARKETPLACE_ERROR_STATUS: Readonly<
  Record<MarketplaceErrorCode, 400 | 404 | 409 | 422 | 502>
> = {
  invalid_request: 400,
  invalid_url: 422,
  private_address: 422,
  invalid_index: 422,
  invalid_manifest: 422,
  invalid_name: 422,
  reserved_name: 422,
  not_in_index: 422,
  name_mismatch: 422,
  invalid_path: 422,
  file_too_large: 422,
  bundle_too_large: 422,
  too_many_files: 422,
  size_mismatch: 422,
  hash_mismatch: 422,
  unreachable: 502,
  upstream_failed: 502,
  already_installed: 409,
  not_installed: 404,
  conflict: 409,
  limit_reached: 409,
};

/** What went wrong, as the API's JSON body carries it (`error` is the code). */
export interface MarketplaceFailure {
  code: MarketplaceErrorCode;
  message: string;
  /** The URL that was being fetched or validated, when there was one. */
  url?: string;
  /** The manifest file path concerned, when there was one. */
  path?: string;
}

/** A failure raised inside lib/marketplace; caught and turned into a `Result` by `Marketplace`. */
export class MarketplaceError extends Error {
  readonly code: MarketplaceErrorCode;
  readonly url?: string;
  readonly path?: string;

  constructor(
    code: MarketplaceErrorCode,
    message: string,
    where: { url?: string; path?: string } = {},
  ) {
    super(message);
    this.name = "MarketplaceError";
    this.code = code;
    this.url = where.url;
    this.path = where.path;
  }

  toFailure(): MarketplaceFailure {
    const failure: MarketplaceFailure = { code: this.code, message: this.message };
    if (this.url !== undefined) failure.url = this.url;
    if (this.path !== undefined) failure.path = this.path;
    return failure;
  }
}

/** The outcome of a marketplace operation. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: MarketplaceFailure };
