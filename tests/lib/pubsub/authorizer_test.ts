/** The authorizer client against a real loopback webhook: statuses, time-out, the body it sends. */
import assert from "node:assert/strict";
import { Authorizer } from "../../../lib/pubsub/mod.ts";
import { LoopbackAuthorizer } from "../../_util/pubsub/loopback_authorizer.ts";

const ALL = new Set(["connect", "join", "leave", "broadcast"] as const);

Deno.test("authorizer: 200 allows, 5xx is unavailable, any other status denies", async () => {
  const hook = LoopbackAuthorizer.start();
  const authorizer = new Authorizer({ url: hook.url, timeoutMs: 2000, events: ALL });
  try {
    const ask = () => authorizer.check({ command: "join", args: { channel: "a" } });
    hook.allow();
    assert.equal(await ask(), "allowed");
    for (const status of [201, 204, 301, 401, 403, 404]) {
      hook.answerWith(() => status);
      assert.equal(await ask(), "denied", `status ${status}`);
    }
    for (const status of [500, 502, 503]) {
      hook.answerWith(() => status);
      assert.equal(await ask(), "unavailable", `status ${status}`);
    }
    assert.deepEqual(hook.calls[0].body, { command: "join", args: { channel: "a" } });
    assert.deepEqual(authorizer.stats(), { calls: 10, denied: 6, unavailable: 3 });
  } finally {
    await hook.close();
  }
});

Deno.test("authorizer: a call slower than WSTUN_AUTHORIZER_TIMEOUT_MS is unavailable", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const slow = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await released;
    return new Response("late");
  });
  const authorizer = new Authorizer({
    url: `http://127.0.0.1:${slow.addr.port}/`,
    timeoutMs: 50,
    events: ALL,
  });
  try {
    assert.equal(await authorizer.check({ command: "connect", args: {} }), "unavailable");
  } finally {
    release();
    await slow.shutdown();
  }
});

Deno.test("authorizer: events left out of WSTUN_AUTHORIZER_EVENTS are allowed without a call", async () => {
  let called = 0;
  const authorizer = new Authorizer({
    url: "http://127.0.0.1:9/never",
    timeoutMs: 1000,
    events: new Set(["connect"] as const),
    fetch: () => {
      called++;
      return Promise.resolve(new Response(null, { status: 403 }));
    },
  });
  assert.equal(await authorizer.check({ command: "broadcast", args: {} }), "allowed");
  assert.equal(await authorizer.check({ command: "connect", args: {} }), "denied");
  assert.equal(called, 1);
});
