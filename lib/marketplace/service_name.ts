/**
 * Service-name rules for marketplace services. A name becomes the first segment of the service's
 * URLs (`/{name}/main`), so it must be URL-safe and must never shadow a built-in service or one of
 * the server's own routes.
 *
 * @module
 */
import { BUILTIN_SERVICES } from "../service_catalog.ts";

/** Lowercase letters, digits and `-`, 1–40 characters. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9-]{1,40}$/;

/**
 * First path segments the server uses itself. Some of them (`_api`, `libwstun.js`) can never pass
 * the pattern; they are listed anyway so the list reads as the server's route table.
 */
export const RESERVED_ROUTE_NAMES: readonly string[] = [
  "_api",
  "_ws",
  "_tunnel",
  "_udp",
  "admin",
  "libwstun.js",
  "ws",
  "broadcast",
  "t",
  "static",
];

/** Why a name cannot be used, or `undefined` when it can. */
export type ServiceNameProblem = "invalid_name" | "reserved_name";

/** Checks names against the pattern and the reserved set (built-ins, routes and `extra`). */
export class ServiceNameRules {
  readonly #reserved: ReadonlySet<string>;

  constructor(extra: readonly string[] = []) {
    this.#reserved = new Set([
      ...RESERVED_ROUTE_NAMES,
      ...BUILTIN_SERVICES.map((s) => s.name),
      ...extra,
    ]);
  }

  /** `undefined` when `name` may be installed, otherwise the reason it may not. */
  problem(name: string): ServiceNameProblem | undefined {
    if (!SERVICE_NAME_PATTERN.test(name)) return "invalid_name";
    if (this.#reserved.has(name)) return "reserved_name";
    return undefined;
  }

  isReserved(name: string): boolean {
    return this.#reserved.has(name);
  }

  reserved(): string[] {
    return [...this.#reserved].sort();
  }
}
