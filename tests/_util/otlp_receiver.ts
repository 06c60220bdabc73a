/**
 * Test-only: an OTLP/HTTP receiver (JSON protocol) on loopback, for servers run with
 * `OTEL_DENO=true`: keeps the latest data points of every `wstun` metric and every `wstun` span,
 * and wakes waiters on each export (no polling, no sleeping).
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Json = any;

/** One data point as a test reads it: attributes flattened to strings, a value or a count. */
export interface Point {
  attributes: Record<string, string>;
  value: number;
}

/** One finished span: its name, attributes flattened to strings, and whether it is an error. */
export interface ReceivedSpan {
  name: string;
  attributes: Record<string, string>;
  error: boolean;
}

function flatten(attributes: Json[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (attributes ?? []).map((a: Json) => [a.key, String(Object.values(a.value)[0])]),
  );
}

function readMetric(m: Json): { kind: string; points: Point[] } {
  const kind = m.histogram ? "histogram" : m.sum ? "counter" : "gauge";
  const data = m.histogram ?? m.sum ?? m.gauge;
  const points = (data.dataPoints as Json[]).map((p) => ({
    attributes: flatten(p.attributes),
    value: Number(p.asDouble ?? p.asInt ?? p.count),
  }));
  return { kind, points };
}

/** SpanStatusCode.ERROR in OTLP JSON. */
const STATUS_ERROR = 2;

export function startReceiver() {
  const latest = new Map<string, { kind: string; points: Point[] }>();
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body: Json = await req.json();
    const path = new URL(req.url).pathname;
    if (path === "/v1/metrics") {
      for (const rm of body.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          if (sm.scope?.name !== "wstun") continue;
          for (const m of sm.metrics) latest.set(m.name, readMetric(m));
        }
      }
    } else if (path === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          if (ss.scope?.name !== "wstun") continue;
          for (const s of ss.spans ?? []) {
            const error = s.status?.code === STATUS_ERROR || s.status?.code === "STATUS_CODE_ERROR";
            spans.push({ name: s.name, attributes: flatten(s.attributes), error });
          }
        }
      }
    }
    for (const wake of [...waiters]) wake();
    return Response.json({});
  });
  /** Resolves once `found()` holds after an export; fails after `ms`. */
  const until = async (what: string, found: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!found()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no export with ${what} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  };
  return { latest, spans, until, port: server.addr.port, close: () => server.shutdown() };
}
