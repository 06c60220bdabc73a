/**
 * The load generator: one process that drives one scenario against one server and reports figures
 * as JSON lines on stdout. bench/run.ts starts it pinned to its own core.
 *
 * Usage: `node bench/load/load_generator.mjs '<config json>'` (or `deno run -A …` without Node).
 *
 * Conversation with the parent, one JSON object per stdout line:
 * - `{"ready":true}` once set-up is done (or `{"stage":n}` for each step of `idle`); the
 *   generator then waits for a line `go` on stdin;
 * - `{"mark":"start"}` / `{"mark":"end"}` around the measured window (the parent samples the
 *   server's and this process's CPU time at these marks); after `end` it waits for another `go`,
 *   so that it still exists when the parent reads its CPU time;
 * - `{"result":{…}}` last, or `{"error":"…"}`; then the process exits.
 *
 * Every loop is bounded: by `durationMs`, by fixed counts, and by `deadlineMs` for the whole process,
 * after which it reports an error and exits on its own.
 *
 * @module
 */
import process from "node:process";
import { randomBytes } from "node:crypto";
import { connectPeer, createInstance, Flavour, joinInstance } from "./peer.mjs";

const MSG_PREFIX = '{"type":"msg"';

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `go` lines from the parent on stdin, one per call. */
function createControl() {
  let buffered = "";
  let pendingGo = 0;
  let waiter = null;
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text) => {
    buffered += text;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line !== "go") continue;
      if (waiter) {
        const w = waiter;
        waiter = null;
        w();
      } else pendingGo++;
    }
  });
  return {
    waitGo() {
      if (pendingGo > 0) {
        pendingGo--;
        return Promise.resolve();
      }
      return new Promise((resolve) => (waiter = resolve));
    },
    stop() {
      process.stdin.pause();
      process.stdin.destroy();
    },
  };
}

/** Latency samples in milliseconds, bounded in count. */
class Samples {
  constructor(max) {
    this.values = new Float64Array(max);
    this.count = 0;
  }
  add(ms) {
    if (this.count < this.values.length) this.values[this.count++] = ms;
  }
  summary() {
    const v = this.values.subarray(0, this.count).sort();
    const at = (q) => (v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : null);
    return { n: v.length, p50: at(0.5), p99: at(0.99), max: v.length ? v[v.length - 1] : null };
  }
}

/** Runs `task(i)` for i in [from, to) with at most `concurrency` in flight; rejects on the first error. */
async function inBatches(from, to, concurrency, task) {
  let next = from;
  const worker = async () => {
    while (next < to) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, worker));
}

function tsOf(text) {
  const at = text.indexOf('"ts":');
  return at < 0 ? NaN : parseFloat(text.slice(at + 5, at + 30));
}

/** Counts peers that closed unexpectedly, keeping the first close code. */
function watchCloses(peers, health) {
  for (const peer of peers) {
    peer.ws.onClose = (code) => {
      if (health.stopping) return;
      health.closes++;
      if (!health.firstClose) health.firstClose = code;
    };
  }
}

function errorsOf(peers) {
  let errors = 0;
  let firstError = "";
  for (const peer of peers) {
    errors += peer.errors;
    if (!firstError && peer.firstError) firstError = peer.firstError;
  }
  return { errors, firstError };
}

async function measureWindow(cfg, ctx, setMeasuring) {
  await sleep(cfg.warmupMs);
  emit({ mark: "start" });
  setMeasuring(true);
  const t0 = performance.now();
  await sleep(cfg.durationMs);
  setMeasuring(false);
  const seconds = (performance.now() - t0) / 1000;
  emit({ mark: "end" });
  await ctx.control.waitGo(); // the parent samples CPU time while this process still exists
  return seconds;
}

/** relay: `instances` hosts with one member each; members send to their host within a window. */
async function relay(cfg, ctx) {
  const pairs = [];
  await inBatches(0, cfg.instances, 10, async (i) => {
    const host = await ctx.connect();
    const uuid = await createInstance(host, `bench-${i}`);
    const member = await ctx.connectMember();
    await joinInstance(member, uuid, "m1");
    pairs.push({ host, member, uuid, inflight: 0 });
  });
  const peers = pairs.flatMap((p) => [p.host, p.member]);
  const health = { closes: 0, firstClose: 0, stopping: false };
  watchCloses(peers, health);
  emit({ ready: true });
  await ctx.control.waitGo();

  const body = "x".repeat(cfg.bodyBytes);
  const latency = new Samples(2_000_000);
  let measuring = false;
  let stopped = false;
  let delivered = 0;
  // Refills are batched: deliveries only mark a pair, and one pass per event-loop turn sends each
  // marked pair's whole refill in one write.
  const marked = new Set();
  let scheduled = false;
  const pump = (pair) => {
    const batch = [];
    const ts = performance.now();
    while (pair.inflight < cfg.window && !stopped) {
      batch.push(`{"type":"msg","uuid":"${pair.uuid}","ts":${ts},"body":"${body}"}`);
      pair.inflight++;
    }
    pair.member.sendMany(batch);
  };
  const pumpMarked = () => {
    scheduled = false;
    for (const pair of marked) pump(pair);
    marked.clear();
  };
  for (const pair of pairs) {
    pair.host.onData = (text) => {
      if (!text.startsWith(MSG_PREFIX)) return;
      pair.inflight--;
      if (measuring) {
        delivered++;
        latency.add(performance.now() - tsOf(text));
      }
      marked.add(pair);
      if (!scheduled) {
        scheduled = true;
        setImmediate(pumpMarked);
      }
    };
  }
  for (const pair of pairs) pump(pair);
  const seconds = await measureWindow(cfg, ctx, (on) => (measuring = on));
  stopped = true;
  health.stopping = true;
  return {
    delivered,
    seconds,
    msgsPerSec: delivered / seconds,
    latencyMs: latency.summary(),
    ...health,
    ...errorsOf(peers),
  };
}

/** fanout: one host, `members` members; the host broadcasts `rate` frames per second. */
async function fanout(cfg, ctx) {
  const host = await ctx.connect();
  const uuid = await createInstance(host, "bench-fanout");
  const members = [];
  await inBatches(0, cfg.members, 50, async (i) => {
    const member = await ctx.connectMember();
    await joinInstance(member, uuid, `m${i}`);
    members.push(member);
  });
  return await paced(cfg, ctx, {
    sender: host,
    receivers: members,
    frame: (ts, seq) => `{"type":"msg","uuid":"${uuid}","ts":${ts},"seq":${seq}}`,
    prefix: MSG_PREFIX,
  });
}

const CHANNEL = "bench";

/**
 * pubsub: one publisher, `members` subscribers of one channel, `rate` publishes per second, either
 * through /_ws's native channel requests or through wsify's commands on /ws.
 */
async function pubsub(cfg, ctx) {
  const wsify = cfg.via === "wsify";
  const subscribers = [];
  await inBatches(0, cfg.members, 50, async () => {
    const peer = await ctx.connect();
    if (wsify) peer.send(JSON.stringify({ command: "join", args: { channel: CHANNEL } }));
    else {
      const reply = await peer.request({ type: "subscribe", channel: CHANNEL });
      if (reply.type !== "ok") throw new Error(`subscribe failed: ${JSON.stringify(reply)}`);
    }
    subscribers.push(peer);
  });
  const publisher = await ctx.connect();
  const frame = wsify
    ? (ts, seq) =>
      `{"command":"broadcast","args":{"channel":"${CHANNEL}","content":{"ts":${ts},"seq":${seq}}}}`
    : (ts, seq) => `{"type":"publish","channel":"${CHANNEL}","data":{"ts":${ts},"seq":${seq}}}`;
  // wsify answers no join: a first publish that every subscriber receives proves they all joined.
  await everyoneReceives(publisher, subscribers, frame(-1, -1));
  return await paced(cfg, ctx, {
    sender: publisher,
    receivers: subscribers,
    frame,
    prefix: wsify ? '{"ts":' : '{"type":"message"',
  });
}

/** Sends `text` once and waits (bounded) until every receiver got a frame. */
async function everyoneReceives(sender, receivers, text) {
  let pending = receivers.length;
  const done = new Promise((resolve) => {
    for (const r of receivers) {
      r.onData = () => {
        r.onData = () => {};
        if (--pending === 0) resolve();
      };
    }
  });
  sender.send(text);
  const timeout = sleep(15000).then(() => {
    throw new Error(`${pending} of ${receivers.length} receivers got nothing within 15 s`);
  });
  await Promise.race([done, timeout]);
}

/**
 * The paced part of fanout and pubsub: `sender` sends `rate` frames per second carrying a timestamp;
 * deliveries to `receivers` are counted inside the window and timed, then drained (bounded).
 */
async function paced(cfg, ctx, { sender, receivers, frame, prefix }) {
  const peers = [sender, ...receivers];
  const health = { closes: 0, firstClose: 0, stopping: false };
  watchCloses(peers, health);
  emit({ ready: true });
  await ctx.control.waitGo();

  const latency = new Samples(4_000_000);
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let inWindow = 0; // deliveries received inside the window, whenever sent
  let ofMeasured = 0; // deliveries of frames sent inside the window, whenever received
  for (const receiver of receivers) {
    receiver.onData = (text) => {
      if (!text.startsWith(prefix)) return;
      const now = performance.now();
      const ts = tsOf(text);
      if (now >= windowStart && now < windowEnd) inWindow++;
      if (ts >= windowStart && ts < windowEnd) {
        ofMeasured++;
        latency.add(now - ts);
      }
    };
  }
  const sendStart = performance.now();
  let sent = 0;
  let sentInWindow = 0;
  const tick = () => {
    const now = performance.now();
    const due = Math.floor(((now - sendStart) * cfg.rate) / 1000);
    while (sent < due) {
      const ts = performance.now();
      sender.send(frame(ts, sent));
      sent++;
      if (ts >= windowStart && ts < windowEnd) sentInWindow++;
    }
  };
  const timer = setInterval(tick, 2);
  await sleep(cfg.warmupMs);
  emit({ mark: "start" });
  windowStart = performance.now();
  windowEnd = windowStart + cfg.durationMs;
  await sleep(cfg.durationMs);
  clearInterval(timer);
  emit({ mark: "end" });
  await ctx.control.waitGo(); // the parent samples CPU time while this process still exists
  const seconds = (performance.now() - windowStart) / 1000;
  const expected = sentInWindow * receivers.length;
  const drainUntil = performance.now() + cfg.drainMs;
  while (ofMeasured < expected && performance.now() < drainUntil) await sleep(5);
  health.stopping = true;
  return {
    rate: cfg.rate,
    members: receivers.length,
    deliveries: inWindow,
    seconds,
    deliveriesPerSec: inWindow / seconds,
    expected,
    lost: expected - ofMeasured,
    latencyMs: latency.summary(),
    ...health,
    ...errorsOf(peers),
  };
}

/** Builds a binary data frame with the pinned header: kind, idLen, peerLen, id, peer, payload. */
function binaryFrame(uuid, peer, payload) {
  const id = Buffer.from(uuid);
  const to = Buffer.from(peer);
  const head = Buffer.from([0x01, id.length, to.length]);
  return Buffer.concat([head, id, to, payload]);
}

/** binary: in each instance member m1 sends file chunks to member m2 within a window. */
async function binary(cfg, ctx) {
  const chunk = randomBytes(cfg.chunkBytes);
  const pairs = [];
  await inBatches(0, cfg.instances, 4, async (i) => {
    const host = await ctx.connect();
    const uuid = await createInstance(host, `bench-bin-${i}`);
    const sender = await ctx.connect();
    await joinInstance(sender, uuid, "m1");
    const receiver = await ctx.connect();
    await joinInstance(receiver, uuid, "m2");
    const frame = sender.ws.buildFrame(0x2, binaryFrame(uuid, "m2", chunk));
    pairs.push({ host, sender, receiver, frame, inflight: 0 });
  });
  const peers = pairs.flatMap((p) => [p.host, p.sender, p.receiver]);
  const health = { closes: 0, firstClose: 0, stopping: false };
  watchCloses(peers, health);
  emit({ ready: true });
  await ctx.control.waitGo();

  let measuring = false;
  let stopped = false;
  let bytes = 0;
  let chunks = 0;
  const pump = (pair) => {
    while (pair.inflight < cfg.window && !stopped) {
      pair.sender.ws.sendFrame(pair.frame);
      pair.inflight++;
    }
  };
  for (const pair of pairs) {
    pair.receiver.onBinary = (buf) => {
      pair.inflight--;
      if (measuring) {
        bytes += buf.length - 3 - buf[1] - buf[2];
        chunks++;
      }
      pump(pair);
    };
  }
  for (const pair of pairs) pump(pair);
  const seconds = await measureWindow(cfg, ctx, (on) => (measuring = on));
  stopped = true;
  health.stopping = true;
  return {
    chunks,
    bytes,
    seconds,
    mibPerSec: bytes / seconds / 1048576,
    ...health,
    ...errorsOf(peers),
  };
}

/** idle: joined connections that send nothing, in steps; the parent reads the server's RSS. */
async function idle(cfg, ctx) {
  const hosts = [];
  await inBatches(0, cfg.instances, 10, async (i) => {
    const host = await ctx.connect();
    hosts.push({ peer: host, uuid: await createInstance(host, `bench-idle-${i}`) });
  });
  const members = [];
  const total = cfg.steps[cfg.steps.length - 1];
  let joined = hosts.length;
  for (const step of cfg.steps) {
    const want = Math.min(step, total) - joined;
    await inBatches(joined, joined + want, 50, async (i) => {
      const host = hosts[i % hosts.length];
      const member = await ctx.connect();
      await joinInstance(member, host.uuid, `m${i}`);
      members.push(member);
    });
    joined += Math.max(0, want);
    emit({ stage: joined });
    await ctx.control.waitGo();
  }
  const peers = [...hosts.map((h) => h.peer), ...members];
  return { connections: peers.length, ...errorsOf(peers) };
}

/** connect: `joins` new connections, each upgraded and joined, as fast as `concurrency` allows. */
async function connect(cfg, ctx) {
  const hosts = [];
  await inBatches(0, cfg.instances, 10, async (i) => {
    const host = await ctx.connect();
    hosts.push({ peer: host, uuid: await createInstance(host, `bench-connect-${i}`) });
  });
  emit({ ready: true });
  await ctx.control.waitGo();
  const members = [];
  emit({ mark: "start" });
  const t0 = performance.now();
  await inBatches(0, cfg.joins, cfg.concurrency, async (i) => {
    const host = hosts[i % hosts.length];
    const member = await ctx.connect();
    await joinInstance(member, host.uuid, `m${i}`);
    members.push(member);
  });
  const seconds = (performance.now() - t0) / 1000;
  emit({ mark: "end" });
  await ctx.control.waitGo(); // the parent samples CPU time while this process still exists
  const peers = [...hosts.map((h) => h.peer), ...members];
  return {
    joins: members.length,
    seconds,
    joinsPerSec: members.length / seconds,
    ...errorsOf(peers),
  };
}

const SCENARIOS = { relay, fanout, pubsub, binary, idle, connect };

async function main() {
  const cfg = JSON.parse(process.argv[2] ?? "{}");
  const scenario = SCENARIOS[cfg.scenario];
  if (!scenario) throw new Error(`unknown scenario ${cfg.scenario}`);
  const flavour = Flavour[cfg.via === "wsify" ? "wsify" : cfg.flavour ?? "wstun"];
  if (!flavour) throw new Error(`unknown flavour ${cfg.flavour}`);
  const deadline = setTimeout(() => {
    emit({ error: `deadline of ${cfg.deadlineMs} ms passed` });
    process.exit(2);
  }, cfg.deadlineMs ?? 120000);
  const control = createControl();
  const opened = [];
  const open = async (port) => {
    const peer = await connectPeer({ host: cfg.host, port, flavour });
    opened.push(peer);
    return peer;
  };
  const ctx = {
    control,
    connect: () => open(cfg.port),
    // relay's and fanout's members: on `memberPort` when given (the cross-isolate scenario puts
    // them on another isolate's listener), else on the host's port.
    connectMember: () => open(cfg.memberPort ?? cfg.port),
  };
  try {
    const result = await scenario(cfg, ctx);
    emit({ result });
  } finally {
    for (const peer of opened) peer.close();
    clearTimeout(deadline);
    control.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    emit({ error: String(err?.message ?? err) });
    process.exit(1);
  },
);
