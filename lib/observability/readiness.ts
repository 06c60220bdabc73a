/**
 * Readiness: whether this isolate should get new sockets now, built from a list of named checks.
 * `GET /_api/ready` answers 200 when every check passes and 503 with the first failing check's
 * reason otherwise, so a load balancer or orchestrator can send traffic elsewhere. Liveness
 * (`/_api/health`) stays a separate, constant answer: a server that is not ready is still alive.
 *
 * A check answers `null` (ready) or a reason a person can act on. Checks are cheap reads of state
 * the server already keeps; one that throws or takes longer than {@link CHECK_TIMEOUT_MS} counts
 * as failing, so a stuck dependency cannot hang the probe.
 *
 * @module
 */

/** One named condition of readiness. */
export interface ReadinessCheck {
  /** Short and stable, e.g. `connections`; shown in the answer. */
  name: string;
  /** `null` when fine, else why this isolate should take no new sockets. */
  check(): string | null | Promise<string | null>;
}

/** The answer of `/_api/ready`. */
export interface Readiness {
  ready: boolean;
  /** The first failing check's reason. */
  reason?: string;
  checks: { name: string; ready: boolean; reason?: string }[];
}

/** How long one check may take before it counts as failing. */
export const CHECK_TIMEOUT_MS = 2000;

/** Runs every check (concurrently) and combines the answers. */
export async function evaluateReadiness(checks: readonly ReadinessCheck[]): Promise<Readiness> {
  const results = await Promise.all(checks.map(async ({ name, check }) => {
    const reason = await bounded(check);
    return reason === null ? { name, ready: true } : { name, ready: false, reason };
  }));
  const failing = results.find((r) => !r.ready);
  return failing
    ? { ready: false, reason: `${failing.name}: ${failing.reason}`, checks: results }
    : { ready: true, checks: results };
}

async function bounded(check: () => string | null | Promise<string | null>) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve().then(check), late]);
  } catch (err) {
    return `check failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Where a server is in its life: ready only while `serving`. */
export type ServerPhase = "starting" | "serving" | "stopping";

/** Not ready while the server is still starting or already shutting down. */
export function phaseCheck(phase: () => ServerPhase): ReadinessCheck {
  return {
    name: "phase",
    check: () => {
      const now = phase();
      if (now === "starting") return "starting: not all of the server is up yet";
      if (now === "stopping") return "shutting down: new sockets would be closed at once";
      return null;
    },
  };
}

/** Not ready when the isolate holds `WSTUN_MAX_CONNECTIONS` sockets (a new one would get 503). */
export function connectionLimitCheck(
  open: () => number,
  max: number,
): ReadinessCheck {
  return {
    name: "connections",
    check: () => {
      if (!max || open() < max) return null;
      return `connection limit reached (${open()} of WSTUN_MAX_CONNECTIONS=${max})`;
    },
  };
}

/** Not ready while the server drains (a restart or deploy): new sockets get 503 `draining`. */
export function drainingCheck(draining: () => boolean): ReadinessCheck {
  return {
    name: "draining",
    check: () =>
      draining()
        ? "this isolate is restarting and refuses new sockets (503 draining); send them to " +
          "another isolate"
        : null,
  };
}

/** The directory as the cluster last found it (lib/cluster/liveness.ts `DirectoryState`). */
export interface DirectoryReachability {
  reachable: boolean;
  failingSince: number | null;
  error: string | null;
}

/**
 * Not ready while the directory (Deno KV or Redis) does not answer the heartbeats: creates,
 * listings and requests to other isolates fail meanwhile (`bridge_unavailable`).
 */
export function directoryCheck(
  state: () => DirectoryReachability,
  now: () => number,
): ReadinessCheck {
  return {
    name: "directory",
    check: () => {
      const { reachable, failingSince, error } = state();
      if (reachable) return null;
      const since = failingSince === null ? "" : ` for ${now() - failingSince} ms`;
      return `the instance directory (Redis or Deno KV) has not answered${since}: ${error}; ` +
        "creates, listings and joins across isolates fail until it is back";
    },
  };
}

/** One other isolate as the bridge hears it (lib/cluster/liveness.ts `IsolateHealth`). */
export interface HeardIsolate {
  isolate: string;
  lastHeardMsAgo: number | null;
  silent: boolean;
}

/**
 * Not ready while an isolate alive in the directory is silent on the bridge: this isolate cannot
 * reach its instances (and, on a bridge that reaches no one, the same holds for every isolate,
 * which is a configuration to fix rather than an isolate to avoid). `advice` says what to do.
 */
export function bridgeCheck(
  isolates: () => readonly HeardIsolate[],
  advice: string,
): ReadinessCheck {
  return {
    name: "bridge",
    check: () => {
      const silent = isolates().filter((h) => h.silent);
      if (silent.length === 0) return null;
      const { isolate, lastHeardMsAgo } = silent[0];
      const heard = lastHeardMsAgo === null ? "never heard" : `not heard for ${lastHeardMsAgo} ms`;
      const others = silent.length > 1 ? ` (and ${silent.length - 1} more)` : "";
      return `isolate ${isolate}${others} is alive in the directory but ${heard} on the bridge: ` +
        advice;
    },
  };
}
