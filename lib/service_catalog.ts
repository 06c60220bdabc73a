/**
 * The catalog of services a host may create instances of: the built-ins shipped in services/ and,
 * once installed, marketplace services. The hub asks it one question, synchronously (`has`), so the
 * catalog keeps every entry in memory; sources that live elsewhere (Deno KV) push into it.
 *
 * @module
 */

/** Public description of a service, as `/_api/services` lists it. */
export interface ServiceInfo {
  name: string;
  builtin: boolean;
  description: string;
  /** Page paths relative to the service root, e.g. `{ service: "/chat/service", main: "/chat/main" }`. */
  endpoints: { service: string; main: string };
  version?: string;
  /** No pages: used by command-line tools only (the index page does not link it). */
  headless?: boolean;
}

/** Built-in services: their pages live in services/<name>/ (service.html, main.html), unless headless. */
export const BUILTIN_SERVICES: readonly ServiceInfo[] = [
  {
    name: "chat",
    builtin: true,
    description: "Rooms where the host keeps the history and members talk in real time.",
    endpoints: { service: "/chat/service", main: "/chat/main" },
  },
  {
    name: "fileshare",
    builtin: true,
    description: "Share files browser to browser; files never touch the server.",
    endpoints: { service: "/fileshare/service", main: "/fileshare/main" },
  },
  {
    // UDP tunnels (docs/udp.md): exposers host, connectors join, from the command line.
    name: "udp",
    builtin: true,
    headless: true,
    description: "UDP tunnels: udp-expose shares a game or voice server, udp-connect reaches it.",
    endpoints: { service: "/_udp", main: "/_udp" },
  },
];

/** In-memory catalog of installed services. */
export class ServiceCatalog {
  #services = new Map<string, ServiceInfo>();

  constructor(initial: readonly ServiceInfo[] = BUILTIN_SERVICES) {
    for (const s of initial) this.#services.set(s.name, s);
  }

  /** Whether instances of `name` may be created. */
  has(name: string): boolean {
    return this.#services.has(name);
  }

  get(name: string): ServiceInfo | undefined {
    return this.#services.get(name);
  }

  list(): ServiceInfo[] {
    return [...this.#services.values()];
  }

  /** Adds or replaces a (marketplace) service. Built-ins cannot be replaced. */
  register(info: ServiceInfo): void {
    if (this.#services.get(info.name)?.builtin) {
      throw new Error(`service ${info.name} is built in and cannot be replaced`);
    }
    this.#services.set(info.name, info);
  }

  /** Removes a marketplace service; returns whether it was there. Built-ins stay. */
  unregister(name: string): boolean {
    if (this.#services.get(name)?.builtin) return false;
    return this.#services.delete(name);
  }
}
