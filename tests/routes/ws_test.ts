import assert from "node:assert/strict";
import type { Config } from "../../lib/config.ts";
import { startServer } from "../_util/server.ts";
import { TestSocket } from "../_util/test_socket.ts";

/**
 * On a server whose clock the test moves (it never moves by itself), a socket on `path` allowed
 * two frames a second gets `rate_limited` on its third, and an answer again once the server's
 * clock, not the wall's, has moved a second on.
 */
async function rateWindowFollowsServerClock(path: string, limit: Partial<Config>) {
  let at = Date.now();
  await using server = await startServer(limit, 0, { now: () => at });
  await using sock = await TestSocket.open(server.wsUrl.replace("/_ws", path));
  for (let i = 0; i < 3; i++) sock.send({ type: "ping", ref: i });
  assert.equal((await sock.next()).type, "pong");
  assert.equal((await sock.next()).type, "pong");
  assert.equal((await sock.next()).code, "rate_limited");
  at += 1000;
  sock.send({ type: "ping", ref: 3 });
  assert.equal((await sock.next()).type, "pong");
}

Deno.test("ws: /_ws connections run on the server's clock (the rate window follows it)", () =>
  rateWindowFollowsServerClock("/_ws", { maxMsgsPerSec: 2 }));

Deno.test("ws: /_udp connections run on the server's clock too", () =>
  rateWindowFollowsServerClock("/_udp", { udpMaxMsgsPerSec: 2 }));
