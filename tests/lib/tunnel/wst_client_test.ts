/**
 * Wire compatibility with the real websocktunnel binaries (upstream v2.0.0, built from the
 * reference source with Go): `wst-client` registers with our server and serves viewers through
 * it, and our TypeScript client does the same against the upstream `websocktunnel` server.
 *
 * Skipped with one line when Go or the reference build script is missing, except under CI=true,
 * where a missing toolchain is a failure. The build takes 10–30 s; its output is kept in the temp
 * directory under a name derived from the source tarball's hash, so later runs reuse it
 * (`WSTUN_WST_BIN_DIR` points at binaries built elsewhere instead).
 */
import assert from "node:assert/strict";
import { fixedToken, startTunnelClient } from "../../../lib/tunnel/client.ts";
import {
  SECRET_A,
  SECRET_B,
  startTarget,
  startTunnelServer,
  token,
} from "../../_util/tunnel/fixture.ts";
import {
  referenceBinaries,
  runWstClient,
  toolchainMissing,
} from "../../_util/tunnel/wst_client.ts";

const missing = await toolchainMissing();
const skip = missing !== undefined && Deno.env.get("CI") !== "true";
if (skip) console.log(`skipping wst-client compatibility tests: ${missing}`);

Deno.test({
  name: "wst-client: the real websocktunnel client works against the WSTun server",
  ignore: skip,
  async fn(t) {
    const dir = await referenceBinaries();
    const bin = `${dir}/wst-client`;
    const server = startTunnelServer();
    const target = startTarget();

    await t.step(
      "registers with --token and serves GET, POST, chunked and concurrent requests",
      async () => {
        const wst = runWstClient(bin, server, "go-client", target.port, await token("go-client"));
        const url = (await wst.waitForStderr(/url="([^"]+)"/))[1];
        assert.deepEqual(url, `${server.origin}/t/go-client`);
        assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
        const echoed = await fetch(`${url}/echo`, { method: "POST", body: "y".repeat(1_000_000) });
        assert.deepEqual((await echoed.text()).length, 1_000_000);
        const chunked = await fetch(`${url}/chunked?n=50&size=4000`);
        assert.deepEqual((await chunked.arrayBuffer()).byteLength, 200_000);
        const many = await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) => fetch(`${url}/request?i=${i}`).then((r) => r.json()),
          ),
        );
        assert.deepEqual(
          many.map((m) => m.url),
          Array.from({ length: 50 }, (_, i) => `/request?i=${i}`),
        );
        await wst.stop();
      },
    );

    await t.step("bridges a WebSocket with its subprotocol", async () => {
      const wst = runWstClient(bin, server, "go-ws", target.port, await token("go-ws"));
      const url = (await wst.waitForStderr(/url="([^"]+)"/))[1];
      const ws = new WebSocket(`${url.replace("http", "ws")}/ws`, ["chat.v2"]);
      await new Promise((r) => ws.onopen = r);
      assert.deepEqual(ws.protocol, "chat.v2");
      const reply = new Promise<MessageEvent>((r) => ws.onmessage = r);
      ws.send("ping through wst-client");
      assert.deepEqual((await reply).data, "ping through wst-client");
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
      await wst.stop();
    });

    await t.step("reads its token from stdin when --token is absent", async () => {
      const wst = runWstClient(bin, server, "go-stdin", target.port, undefined);
      await wst.feed(await token("go-stdin"));
      const url = (await wst.waitForStderr(/url="([^"]+)"/))[1];
      assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
      await wst.stop();
    });

    await t.step("exits with auth failed on a token for another id", async () => {
      const wst = runWstClient(bin, server, "go-bad", target.port, await token("someone-else"));
      const line = (await wst.waitForStderr(/level=fatal msg="([^"]+)"/))[1];
      assert.match(line, /auth failed/);
      assert.deepEqual((await wst.child.status).success, false);
      await wst.stop();
    });

    await t.step("the TS client works against the real websocktunnel server", async () => {
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (probe.addr as Deno.NetAddr).port;
      probe.close();
      const upstream = new Deno.Command(`${dir}/websocktunnel`, {
        env: {
          URL_PREFIX: `http://127.0.0.1:${port}`,
          PORT: String(port),
          TASKCLUSTER_PROXY_SECRET_A: SECRET_A,
          TASKCLUSTER_PROXY_SECRET_B: SECRET_B,
        },
        stdout: "null",
        stderr: "null",
      }).spawn();
      const { promise: announced, resolve } = Promise.withResolvers<string>();
      // The client's own retry covers the moment before the upstream server listens.
      const client = startTunnelClient({
        server: `http://127.0.0.1:${port}`,
        id: "ts-client",
        targetPort: target.port,
        tokens: fixedToken(await token("ts-client")),
        initialDelayMs: 50,
        onUrl: resolve,
      });
      const url = await announced;
      assert.deepEqual(url, `http://127.0.0.1:${port}/ts-client`);
      assert.deepEqual(await (await fetch(`${url}/hello`)).text(), "hello from the target");
      const big = await fetch(`${url}/bytes?n=3000000`);
      assert.deepEqual((await big.arrayBuffer()).byteLength, 3_000_000);
      const ws = new WebSocket(`${url.replace("http", "ws")}/ws`, ["p1"]);
      await new Promise((r) => ws.onopen = r);
      assert.deepEqual(ws.protocol, "p1");
      const reply = new Promise<MessageEvent>((r) => ws.onmessage = r);
      ws.send("hi upstream");
      assert.deepEqual((await reply).data, "hi upstream");
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
      await client.close();
      upstream.kill("SIGTERM");
      await upstream.status;
    });

    await target.close();
    await server.close();
  },
});
