/**
 * Spans through `npm:@opentelemetry/api`: exported by Deno's own tracer provider when
 * `OTEL_DENO=true` (and on Deno Deploy), no-ops otherwise.
 *
 * @module
 */
import { type Attributes, SpanStatusCode, trace } from "@opentelemetry/api";
import { VERSION } from "../version.ts";

/** The instrumentation scope of WSTun's meters and tracers. */
export const SCOPE = "wstun";

/**
 * Ends a span started by {@link startSpan}: `error` is the error code when the work failed
 * (the span's status becomes ERROR); either way `wstun.outcome` says `ok` or that code, and
 * `attributes` are added (what was learnt on the way, e.g. the owner isolate).
 */
export type SpanEnd = (error?: string, attributes?: Attributes) => void;

/**
 * Starts a span for work that ends in a callback rather than a promise (a bridge request answered
 * by a later message or a timer); call the returned {@link SpanEnd} once. Attributes must never
 * carry a token, secret or message content.
 *
 * @example
 * ```ts
 * const end = startSpan("wstun.bridge.resume_instance", { "wstun.instance": uuid });
 * // … when the answer or the time-out comes:
 * end(timedOut ? "bridge_timeout" : undefined, { "wstun.owner": owner });
 * ```
 */
export function startSpan(name: string, attributes: Attributes): SpanEnd {
  const span = trace.getTracer(SCOPE, VERSION).startSpan(name, { attributes });
  return (error, more) => {
    if (more) span.setAttributes(more);
    span.setAttribute("wstun.outcome", error ?? "ok");
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  };
}
