import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { defaultLogFormat, Logger, type LoggerOptions } from "../../lib/log.ts";

function capture(options: LoggerOptions = {}) {
  const lines: { line: string; level: string }[] = [];
  let clock = Date.parse("2026-01-02T03:04:05.000Z");
  const log = new Logger({
    write: (line, level) => lines.push({ line, level }),
    now: () => clock,
    ...options,
  });
  return { log, lines, advance: (ms: number) => clock += ms };
}

Deno.test("log: one JSON object per line with ts, level, event first, then the fields", () => {
  const { log, lines } = capture({ base: { isolate: "i1" } });
  log.info("upgrade.refused", { path: "/_ws", status: 503, ts: "spoofed", event: "spoofed" });
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "info");
  const parsed = JSON.parse(lines[0].line);
  assert.deepEqual(Object.keys(parsed), ["ts", "level", "event", "isolate", "path", "status"]);
  assert.deepEqual(parsed, {
    ts: "2026-01-02T03:04:05.000Z",
    level: "info",
    event: "upgrade.refused",
    isolate: "i1",
    path: "/_ws",
    status: 503,
  });
});

Deno.test("log: text format for people, values with spaces quoted", () => {
  const { log, lines } = capture({ format: "text" });
  log.warn("tunnel.closed", { id: "box", reason: "going away", code: 1001 });
  assert.equal(
    lines[0].line,
    '2026-01-02T03:04:05.000Z WARN  tunnel.closed id=box reason="going away" code=1001',
  );
});

Deno.test("log: levels below WSTUN_LOG_LEVEL are not written; off writes nothing", () => {
  const warn = capture({ level: "warn" });
  warn.log.debug("a");
  warn.log.info("b");
  warn.log.warn("c");
  warn.log.error("d");
  assert.deepEqual(warn.lines.map((l) => JSON.parse(l.line).event), ["c", "d"]);
  const off = capture({ level: "off" });
  off.log.error("e");
  assert.equal(off.lines.length, 0);
});

Deno.test("log: a flood of one event writes burst lines per window, then one summary", () => {
  const { log, lines, advance } = capture({ burst: 3, windowMs: 1000 });
  for (let i = 0; i < 500; i++) log.warn("upgrade.refused", { n: i });
  log.info("server.config");
  assert.equal(lines.length, 4, "3 of the flood, and another event unaffected");
  advance(1000);
  log.warn("upgrade.refused", { n: 500 });
  const events = lines.map((l) => JSON.parse(l.line));
  assert.deepEqual(events.slice(4).map((e) => [e.event, e.suppressedEvent, e.count]), [
    ["log.suppressed", "upgrade.refused", 497],
    ["upgrade.refused", undefined, undefined],
  ]);
  for (let i = 0; i < 10; i++) log.warn("upgrade.refused");
  log.flush();
  assert.deepEqual(JSON.parse(lines.at(-1)!.line).count, 8);
});

Deno.test("log: fields named like secrets are redacted; with() shares the limits", () => {
  const { log, lines } = capture({ burst: 1 });
  const child = log.with({ isolate: "x" });
  child.info("e", {
    token: "t0p",
    adminToken: "a",
    apiKey: "k",
    clientSecret: "s",
    authorization: "Bearer b",
    cookie: "c",
    adminTokenSet: true,
  });
  log.info("e");
  assert.equal(lines.length, 1, "the parent's line was over the shared burst");
  assert.deepEqual(JSON.parse(lines[0].line), {
    ts: "2026-01-02T03:04:05.000Z",
    level: "info",
    event: "e",
    isolate: "x",
    token: "[redacted]",
    adminToken: "[redacted]",
    apiKey: "[redacted]",
    clientSecret: "[redacted]",
    authorization: "[redacted]",
    cookie: "[redacted]",
    adminTokenSet: true,
  });
});

Deno.test("log: text on a terminal, JSON otherwise", () => {
  assert.equal(defaultLogFormat(() => true), "text");
  assert.equal(defaultLogFormat(() => false), "json");
  assert.equal(
    defaultLogFormat(() => {
      throw new Error("no stdout");
    }),
    "json",
  );
});

Deno.test("config: WSTUN_LOG_LEVEL, WSTUN_LOG_FORMAT and WSTUN_METRICS_TOKEN", () => {
  const config = loadConfig({
    WSTUN_LOG_LEVEL: "debug",
    WSTUN_LOG_FORMAT: "text",
    WSTUN_METRICS_TOKEN: "m",
  });
  assert.deepEqual([config.logLevel, config.logFormat, config.metricsToken], [
    "debug",
    "text",
    "m",
  ]);
  const unset = loadConfig({ WSTUN_LOG_FORMAT: "" });
  assert.deepEqual([unset.logLevel, unset.logFormat, unset.metricsToken], [
    "info",
    undefined,
    undefined,
  ]);
  assert.throws(
    () => loadConfig({ WSTUN_LOG_LEVEL: "loud" }),
    new ConfigError('WSTUN_LOG_LEVEL: must be one of debug, info, warn, error, off (got "loud")'),
  );
  assert.throws(
    () => loadConfig({ WSTUN_LOG_FORMAT: "xml" }),
    new ConfigError('WSTUN_LOG_FORMAT: must be json or text (got "xml")'),
  );
});
