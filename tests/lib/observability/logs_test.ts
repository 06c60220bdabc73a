import assert from "node:assert/strict";
import { UPGRADE_HEADERS } from "../../_util/upgrade_request.ts";
import { startServerProcess } from "../../_util/server_process.ts";
import { createRoom, joinRoom, TestSocket } from "../../_util/test_socket.ts";

/** Every secret the server is given or sees; none may appear in anything it prints. */
const SECRETS = {
  WSTUN_TOKEN: "srv-tok-4f1c9e",
  WSTUN_ADMIN_TOKEN: "adm-tok-77ab02",
  WSTUN_METRICS_TOKEN: "met-tok-90d3aa",
  WSTUN_BROADCAST_KEY: "bcast-key-c3e1",
  WSTUN_TUNNEL_SECRET_A: "tun-sec-a-5d2f-0123456789abcdef0123456789",
  WSTUN_TUNNEL_SECRET_B: "tun-sec-b-8e6a-0123456789abcdef0123456789",
  WSTUN_AUTHORIZER_URL: "http://user:authz-pw-1b7c@127.0.0.1:9/authorize",
};
const INSTANCE_TOKEN = "room-tok-2a9f";
const MESSAGE = "message-content-e04b";
const WRONG_TOKEN = "wrong-tok-66f0";

Deno.test("logs: JSON lines, bounded under a flood of refused upgrades, no secret printed", async () => {
  await using server = await startServerProcess({
    ...SECRETS,
    WSTUN_AUTHORIZER_EVENTS: "broadcast",
    WSTUN_LOG_FORMAT: "json",
  });
  // A flood of bad clients: 300 upgrades with a wrong token, each refused 401.
  for (let i = 0; i < 300; i++) {
    const response = await fetch(`${server.base}/_ws?token=${WRONG_TOKEN}`, {
      headers: UPGRADE_HEADERS,
    });
    assert.equal(response.status, 401);
    await response.body?.cancel();
  }
  // Real traffic with an instance token and message content.
  const url = `ws://127.0.0.1:${server.port}/_ws?token=${SECRETS.WSTUN_TOKEN}`;
  const host = await TestSocket.open(url);
  const member = await TestSocket.open(url);
  const { uuid } = await createRoom(host, { token: INSTANCE_TOKEN });
  await joinRoom(host, member, uuid, "bob", { token: INSTANCE_TOKEN });
  member.send({ type: "chat", uuid, text: MESSAGE });
  assert.equal((await host.next()).text, MESSAGE);
  // A tunnel registration with a bad JWT, and a scrape.
  const tunnel = await fetch(`${server.base}/_tunnel`, {
    headers: { ...UPGRADE_HEADERS, "x-websocktunnel-id": "box", authorization: "Bearer a.b.c" },
  });
  assert.equal(tunnel.status, 401);
  await tunnel.body?.cancel();
  const metrics = await fetch(`${server.base}/metrics`, {
    headers: { authorization: `Bearer ${SECRETS.WSTUN_METRICS_TOKEN}` },
  });
  assert.equal(metrics.status, 200);
  await metrics.body?.cancel();
  await member.close();
  await host.close();
  await server.stop();

  const events = server.lines.filter((l) => l.trim()).map((line) => {
    const parsed = JSON.parse(line);
    assert.equal(typeof parsed.ts, "string", line);
    assert.ok(["debug", "info", "warn", "error"].includes(parsed.level), line);
    assert.equal(typeof parsed.event, "string", line);
    return parsed;
  });
  const named = (event: string) => events.filter((e) => e.event === event);
  assert.equal(named("server.listening").length, 1);
  const [config] = named("server.config");
  assert.equal(config.adminTokenSet, true);
  assert.equal(config.authorizerSet, true);
  assert.equal(config.tunnels, true);
  const refused = named("upgrade.refused");
  assert.ok(refused.length >= 1 && refused.length <= 20, `${refused.length} lines`);
  assert.deepEqual(
    [refused[0].path, refused[0].status, refused[0].reason],
    ["/_ws", 401, "unauthorized"],
  );
  assert.equal(named("tunnel.registration_refused")[0].reason, "invalid_token");
  const everything = server.lines.join("\n");
  for (const secret of [...Object.values(SECRETS), "authz-pw-1b7c", INSTANCE_TOKEN, MESSAGE]) {
    assert.ok(!everything.includes(secret), `${secret} was printed`);
  }
  assert.ok(!everything.includes(WRONG_TOKEN), "a presented token was printed");
});
