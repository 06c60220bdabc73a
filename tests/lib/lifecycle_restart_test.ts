/**
 * Rooms outlive the server under them (docs/protocol.md, "Draining and moving rooms"): one
 * server with `WSTUN_KV_PATH`, restarted with SIGTERM (a drain) or killed with SIGKILL, then
 * started again on the same port and KV file; libwstun clients in the room carry on by themselves.
 *
 * @module
 */
import assert from "node:assert/strict";
import { WSTunClient } from "../../static/libwstun.js";
import { freePort } from "../_util/server.ts";
import { TestSocket } from "../_util/test_socket.ts";
import { StalledSocket } from "../_util/stalled_socket.ts";
import { noteTaker, RestartableServer, sendNotes } from "../_util/restartable_server.ts";
import { waitFor } from "../_util/wait_for.ts";

async function withRestartableServer(
  fn: (server: RestartableServer) => Promise<void>,
  env: Record<string, string> = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "wstun-restart-" });
  await using server = new RestartableServer(freePort(), {
    WSTUN_KV_PATH: `${dir}/wstun.kv`,
    WSTUN_HOST_GRACE_MS: "20000",
    ...env,
  });
  try {
    await server.start();
    await fn(server);
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("restart with SIGTERM: 200 numbered messages reach the host once each, in order", async () => {
  await withRestartableServer(async (server) => {
    const host = noteTaker(server.url);
    const member = noteTaker(server.url);
    try {
      await host.client.connect();
      await member.client.connect();
      const room = await host.client.createInstance({ service: "chat", name: "Team", token: "pw" });
      await member.client.joinInstance({ uuid: room.uuid, userId: "ann", token: "pw" });

      const sending = sendNotes(member.client, room.uuid, 0, 200, 10);
      await waitFor(() => host.notes.length >= 40, {
        timeoutMs: 20_000,
        what: "some notes before the restart",
        everyMs: 20,
      });
      const drainMs = await server.stop("SIGTERM");
      assert.ok(drainMs < 4000 + 1000, `the drain took ${drainMs} ms`);
      await server.start();
      await sending;
      await waitFor(() => host.notes.length >= 200, {
        timeoutMs: 20_000,
        what: "every note after the restart",
        everyMs: 20,
      });
      assert.deepEqual(host.notes, Array.from({ length: 200 }, (_, n) => n));

      // The share link still works: a new member joins the same uuid with the same token.
      const late = new WSTunClient({ url: server.url });
      await late.connect();
      const ack = await late.joinInstance({ uuid: room.uuid, userId: "bob", token: "pw" });
      assert.equal(ack.instanceName, "Team");
      late.close();
      const reconnect = member.events.find((e) => e.type === "reconnect");
      assert.ok(reconnect, "the member reconnected by itself");
      assert.equal(reconnect.unconfirmed, 0, "a drain leaves nothing unconfirmed");
      assert.equal(host.events.filter((e) => e.type === "instance_closed").length, 0);
    } finally {
      host.client.close();
      member.client.close();
    }
  });
});

Deno.test("restart with SIGKILL: the host's resume adopts the room; the member rejoins", async () => {
  await withRestartableServer(async (server) => {
    const host = noteTaker(server.url);
    const member = noteTaker(server.url);
    try {
      await host.client.connect();
      await member.client.connect();
      const room = await host.client.createInstance({ service: "chat", name: "Team" });
      await member.client.joinInstance({ uuid: room.uuid, userId: "ann" });
      await sendNotes(member.client, room.uuid, 0, 10, 5);
      await waitFor(() => host.notes.length === 10, {
        timeoutMs: 20_000,
        what: "the first notes",
        everyMs: 20,
      });

      await server.stop("SIGKILL");
      // No drain: what is sent into the dying socket is lost with it, so the member sends once
      // it knows; libwstun holds those and sends them once the room is back.
      await waitFor(() => member.events.some((e) => e.type === "close"), {
        timeoutMs: 20_000,
        what: "the member noticed",
        everyMs: 20,
      });
      await server.start();
      await sendNotes(member.client, room.uuid, 10, 20, 5);
      await waitFor(() => host.notes.length === 20, {
        timeoutMs: 20_000,
        what: "the notes after the crash",
        everyMs: 20,
      });
      assert.deepEqual(host.notes, Array.from({ length: 20 }, (_, n) => n));
      const hostBack = host.events.find((e) => e.type === "reconnect");
      assert.deepEqual(hostBack?.instances, [{ uuid: room.uuid, ok: true }]);
    } finally {
      host.client.close();
      member.client.close();
    }
  });
});

Deno.test("members rejoining while the host's resume adopts the room all get back in", async () => {
  // Their joins may reach the directory between the adoption's write and the room's arrival in
  // the hub: such a join waits for the adoption instead of finding "no instance" (a race that
  // failed about one rejoin in 30 before). Several rounds, so the window is likely hit.
  await withRestartableServer(async (server) => {
    const failed: string[] = [];
    for (let round = 0; round < 10; round++) {
      const host = noteTaker(server.url);
      const members = Array.from({ length: 12 }, () => noteTaker(server.url));
      try {
        await host.client.connect();
        const room = await host.client.createInstance({ service: "chat", name: "T", token: "pw" });
        for (const [i, m] of members.entries()) {
          await m.client.connect();
          await m.client.joinInstance({ uuid: room.uuid, userId: `m${i}`, token: "pw" });
        }
        await server.stop(round % 2 ? "SIGKILL" : "SIGTERM");
        await server.start();
        const everyone = [host, ...members];
        await waitFor(() => everyone.every((c) => reconnected(c.events)), {
          timeoutMs: 20_000,
          what: "everyone back",
          everyMs: 20,
        });
        for (const [i, m] of members.entries()) {
          const back = m.events.find((e) => e.type === "reconnect") as unknown as ReconnectEvent;
          if (!back.instances[0].ok) {
            failed.push(`round ${round} m${i}: ${back.instances[0].error?.code}`);
          }
        }
      } finally {
        host.client.close();
        for (const m of members) m.client.close();
      }
    }
    assert.deepEqual(failed, []);
  });
});

interface ReconnectEvent {
  type: "reconnect";
  instances: { uuid: string; ok: boolean; error?: { code: string } }[];
}

function reconnected(events: { type: string }[]): boolean {
  return events.some((e) => e.type === "reconnect");
}

Deno.test("restart with SIGTERM while both sides stream: draining reaches both, every frame once", async () => {
  // The host streams 2 KB notes, the member answers each one. A server that closed these
  // sockets while they still sent would cut off its own last frames, `draining` among them
  // (the connection is reset): libwstun closes first, behind what it sends, and reconnects.
  // The host is back before the member: what it sends meanwhile is held for the member.
  await withRestartableServer(async (server) => {
    const host = noteTaker(server.url);
    const member = noteTaker(server.url);
    const replies: number[] = [];
    const drained: string[] = [];
    host.client.on("reply", (frame) => replies.push(frame.n));
    host.client.on("draining", () => drained.push("host"));
    member.client.on("draining", () => drained.push("member"));
    try {
      await host.client.connect();
      await member.client.connect();
      const room = await host.client.createInstance({ service: "chat", name: "T" });
      await member.client.joinInstance({ uuid: room.uuid, userId: "ann" });
      member.client.on("note", (f) => member.client.send(room.uuid, "reply", { n: f.n }));
      const total = 1500;
      const streamed = streamNotes(host.client, room.uuid, total, "y".repeat(2_000));
      await waitFor(() => member.notes.length > 200, {
        timeoutMs: 20_000,
        what: "notes flowing",
        everyMs: 20,
      });
      await server.stop("SIGTERM");
      await server.start();
      await streamed;
      await waitFor(() => replies.length >= total, {
        timeoutMs: 30_000,
        what: "every note and reply",
        everyMs: 20,
      });
      const all = Array.from({ length: total }, (_, n) => n);
      assert.deepEqual(member.notes, all, "each note once, in order");
      assert.deepEqual(replies, all, "each reply once, in order");
      assert.deepEqual(drained.sort(), ["host", "member"]);
      const closes = [host, member].map((c) => c.events.find((e) => e.type === "close")?.code);
      assert.deepEqual(closes, [1000, 1000], "each closed cleanly, itself");
    } finally {
      host.client.close();
      member.client.close();
    }
  });
});

/**
 * Sends `total` numbered notes as fast as the socket takes them, waiting while libwstun's own
 * buffer or hold queue is full (`queue_full` while reconnecting: the same note is tried again).
 */
async function streamNotes(client: WSTunClient, uuid: string, total: number, pad: string) {
  for (let n = 0; n < total;) {
    if (client.bufferedAmount > 1_000_000) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    try {
      client.send(uuid, "note", { n, pad });
      n++;
    } catch (err) {
      if ((err as { code?: string }).code !== "queue_full") throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (n % 20 === 0) await new Promise((r) => setTimeout(r, 0));
  }
}

Deno.test("after a restart, frames for a member not back yet are held up to WSTUN_REJOIN_HOLD_BYTES; the rest is counted to it", async () => {
  await withRestartableServer(async (server) => {
    const host = noteTaker(server.url);
    try {
      await host.client.connect();
      const room = await host.client.createInstance({ service: "chat", name: "T" });
      const ws = `ws://127.0.0.1:${server.port}/_ws`;
      const before = await TestSocket.open(ws);
      const joined = await before.request({
        type: "join_instance",
        uuid: room.uuid,
        userId: "ann",
      });
      assert.equal(joined.success, true);
      await server.stop("SIGTERM");
      await before.close();
      await server.start();
      await waitFor(() => reconnected(host.events), {
        timeoutMs: 20_000,
        what: "the host is back",
        everyMs: 20,
      });
      const pad = "p".repeat(300);
      for (let n = 0; n < 10; n++) host.client.send(room.uuid, "note", { n, pad });
      await host.client.request({ type: "ping" }); // answered after the notes were routed
      await using ann = await TestSocket.open(ws);
      const ack = await ann.request({
        type: "join_instance",
        uuid: room.uuid,
        userId: "ann",
        rejoin: true,
      });
      assert.equal(ack.success, true);
      // What fits in the limit comes first, in order; then how many did not, so every note is
      // either delivered or counted (a note is about 380 bytes: a few fit in 1200).
      const held: number[] = [];
      let next = await ann.next();
      for (; next.type === "note"; next = await ann.next()) {
        assert.equal(next.from, "host");
        held.push(next.n as number);
      }
      assert.ok(held.length >= 2 && held.length < 10, `held ${held.length}`);
      assert.deepEqual(held, Array.from({ length: held.length }, (_, n) => n));
      assert.deepEqual([next.type, next.code, next.lost, next.uuid], [
        "error",
        "missed_frames",
        10 - held.length,
        room.uuid,
      ]);
      host.client.send(room.uuid, "note", { n: 10 });
      assert.deepEqual((await ann.next()).n, 10, "then the live frames");
      // A new member (no `rejoin`) gets nothing of what was held.
      await using bob = await TestSocket.open(ws);
      assert.equal((await bob.request({ type: "join_instance", uuid: room.uuid })).success, true);
      await bob.expectNothingPending();
    } finally {
      host.client.close();
    }
  }, { WSTUN_REJOIN_HOLD_BYTES: "1200" });
});

Deno.test("SIGTERM exits within WSTUN_DRAIN_MS even if a socket never reads; a second signal at once", async () => {
  await withRestartableServer(async (server) => {
    // A socket that stops reading keeps its close waiting behind a backlog.
    const stalled = await StalledSocket.open(server.port, "/_ws");
    try {
      const took = await server.stop("SIGTERM");
      assert.ok(took < 1000 + 700, `exited ${took} ms after SIGTERM (WSTUN_DRAIN_MS 1000)`);
    } finally {
      stalled.close();
    }
    await server.start();
    const again = await StalledSocket.open(server.port, "/_ws");
    try {
      const took = await server.stop("SIGTERM", "SIGTERM");
      assert.ok(took < 700, `exited ${took} ms after a second SIGTERM`);
    } finally {
      again.close();
    }
  }, { WSTUN_DRAIN_MS: "1000" });
});

Deno.test("restart with SIGTERM, two workers: the room and its messages carry on", async () => {
  await withRestartableServer(async (server) => {
    const host = noteTaker(server.url);
    const member = noteTaker(server.url);
    try {
      await host.client.connect();
      await member.client.connect();
      const room = await host.client.createInstance({ service: "chat", name: "Team" });
      await member.client.joinInstance({ uuid: room.uuid, userId: "ann" });
      const sending = sendNotes(member.client, room.uuid, 0, 150, 10);
      await waitFor(() => host.notes.length >= 30, {
        timeoutMs: 20_000,
        what: "some notes before the restart",
        everyMs: 20,
      });
      await server.stop("SIGTERM");
      await server.start();
      await sending;
      await waitFor(() => host.notes.length >= 150, {
        timeoutMs: 20_000,
        what: "every note after the restart",
        everyMs: 20,
      });
      assert.deepEqual(host.notes, Array.from({ length: 150 }, (_, n) => n));
    } finally {
      host.client.close();
      member.client.close();
    }
  }, { WSTUN_WORKERS: "2", WSTUN_BRIDGE_HEARTBEAT_MS: "500" });
});
