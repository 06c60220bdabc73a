/**
 * Rooms outlive the server under them (docs/protocol.md, "Draining and moving rooms"): one
 * server with `WSTUN_KV_PATH`, restarted with SIGTERM (a drain) or killed with SIGKILL, then
 * started again on the same port and KV file; libwstun clients in the room carry on by themselves.
 *
 * @module
 */
import assert from "node:assert/strict";
import { WSTunClient } from "../../static/libwstun.js";
import { freePort } from "../bridge/process.ts";
import { StalledSocket } from "../udp/raw_ws.ts";
import { noteTaker, RestartableServer, sendNotes, until } from "./_restart.ts";

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
      await until("some notes before the restart", () => host.notes.length >= 40);
      const drainMs = await server.stop("SIGTERM");
      assert.ok(drainMs < 4000 + 1000, `the drain took ${drainMs} ms`);
      await server.start();
      await sending;
      await until("every note after the restart", () => host.notes.length >= 200);
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
      await until("the first notes", () => host.notes.length === 10);

      await server.stop("SIGKILL");
      // No drain: what is sent into the dying socket is lost with it, so the member sends once
      // it knows; libwstun holds those and sends them once the room is back.
      await until("the member noticed", () => member.events.some((e) => e.type === "close"));
      await server.start();
      await sendNotes(member.client, room.uuid, 10, 20, 5);
      await until("the notes after the crash", () => host.notes.length === 20);
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
        await until("everyone back", () => everyone.every((c) => reconnected(c.events)));
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
      await until("some notes before the restart", () => host.notes.length >= 30);
      await server.stop("SIGTERM");
      await server.start();
      await sending;
      await until("every note after the restart", () => host.notes.length >= 150);
      assert.deepEqual(host.notes, Array.from({ length: 150 }, (_, n) => n));
    } finally {
      host.client.close();
      member.client.close();
    }
  }, { WSTUN_WORKERS: "2", WSTUN_BRIDGE_HEARTBEAT_MS: "500" });
});
