/**
 * How a server process ends on signals (lib/process_exit.ts, main.ts), as users start it: `deno
 * task start` in a process group of its own, signalled the way a terminal's Ctrl-C or a
 * supervisor's process-group kill does (every process of the group gets it, and `deno task`
 * forwards its copy to the server a few milliseconds later).
 *
 * @module
 */
import assert from "node:assert/strict";
import { StalledSocket } from "../_util/stalled_socket.ts";
import { waitFor } from "../_util/wait_for.ts";
import { startServerProcess } from "../_util/server_process.ts";

/** `deno task start` leading a process group of its own, JSON logs; `events` reads them. */
async function startTaskGroup(env: Record<string, string>) {
  const server = await startServerProcess({ WSTUN_LOG_FORMAT: "json", ...env }, { task: true });
  return Object.assign(server, {
    events: () => server.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).event),
  });
}

/** A raw WebSocket on /_ws that records the types of the frames it receives. */
async function listeningSocket(port: number) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/_ws`);
  const types: string[] = [];
  socket.onmessage = (event) => types.push(JSON.parse(event.data).type);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return { socket, types };
}

Deno.test("signals: one Ctrl-C to `deno task start` (delivered two or three times) drains, not exits at once", async () => {
  await using server = await startTaskGroup({ WSTUN_DRAIN_MS: "3000" });
  const { types } = await listeningSocket(server.port);
  server.signal("SIGINT");
  const status = await server.exited();
  assert.deepEqual(types, ["draining"], "the client was asked to reconnect");
  assert.equal(status.code, 0, `exit status; events: ${server.events().join(", ")}`);
  assert.ok(server.events().includes("server.stopped"), server.events().join(", "));
  assert.ok(!server.events().includes("server.exit_at_once"));
});

Deno.test("signals: a second Ctrl-C a moment later exits at once (130) and says so", async () => {
  await using server = await startTaskGroup({ WSTUN_DRAIN_MS: "3000" });
  const stalled = await StalledSocket.open(server.port, "/_ws");
  try {
    server.signal("SIGINT");
    await waitFor(() => server.events().includes("server.stopping"), { what: "server.stopping" });
    await new Promise((r) => setTimeout(r, 400));
    const began = Date.now();
    server.signal("SIGINT");
    const status = await server.exited();
    assert.ok(Date.now() - began < 1000, `exited ${Date.now() - began} ms after the second`);
    assert.equal(status.code, 130);
    assert.ok(server.events().includes("server.exit_at_once"), server.events().join(", "));
  } finally {
    stalled.close();
  }
});

Deno.test("signals: a drain that runs out of WSTUN_DRAIN_MS exits 0 and logs the time-out", async () => {
  await using server = await startTaskGroup({ WSTUN_DRAIN_MS: "1000" });
  // A socket that stops reading keeps its close waiting behind a backlog.
  const stalled = await StalledSocket.open(server.port, "/_ws");
  try {
    const began = Date.now();
    server.signal("SIGTERM");
    const status = await server.exited();
    assert.ok(Date.now() - began < 1000 + 700, `exited ${Date.now() - began} ms after SIGTERM`);
    assert.equal(status.code, 0);
    assert.ok(server.events().includes("server.drain_timed_out"), server.events().join(", "));
  } finally {
    stalled.close();
  }
});
