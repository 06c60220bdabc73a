/**
 * The `cross-isolate` scenario is only meaningful if bench/two_isolates.ts really puts its two
 * listeners on different isolates joined by the bridge: a member on the second port must reach a
 * host on the first through it.
 */
import assert from "node:assert/strict";
import { freePort, startServer } from "../../bench/processes.ts";
import { TestSocket } from "../_util/test_socket.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function isolateOf(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/_api/stats`);
  const body = await res.json();
  return body.isolate;
}

Deno.test("two_isolates: the two ports answer from different isolates, and a member on the second reaches a host on the first", async () => {
  const port = freePort();
  const memberPort = freePort();
  const server = await startServer([
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "bench/two_isolates.ts",
  ], {
    port,
    cpu: "",
    env: { WSTUN_BENCH_MEMBER_PORT: String(memberPort), WSTUN_MAX_MSGS_PER_SEC: "0" },
    cwd: ROOT,
  });
  try {
    const [main, worker] = [await isolateOf(port), await isolateOf(memberPort)];
    assert.ok(main && worker, "both listeners report an isolate");
    assert.notEqual(main, worker);

    const host = await TestSocket.open(`ws://127.0.0.1:${port}/_ws`);
    const member = await TestSocket.open(`ws://127.0.0.1:${memberPort}/_ws`);
    try {
      const { uuid } = await host.request({ type: "create_instance", service: "chat", name: "x" });
      await member.request({ type: "join_instance", uuid, userId: "m1" });
      await host.next(); // the join notification
      member.send({ type: "msg", uuid, n: 1 });
      const got = await host.next(5000);
      assert.equal(got.n, 1);
      assert.equal(got.from, "m1");
    } finally {
      await host.close();
      await member.close();
    }
  } finally {
    await server.stop();
  }
});
