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
