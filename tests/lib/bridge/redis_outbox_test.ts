/**
 * lib/bridge/redis_outbox.ts with Redis's PUBLISH played by a script (the real Redis is in
 * redis_bridge_test.ts): in order while it flows; once a publish fails or reaches no one, re-sent in
 * order until one gets through; past its age or size bound, dropped and counted.
 */
import assert from "node:assert/strict";
import { RedisOutbox } from "../../../lib/bridge/redis_outbox.ts";
import { waitFor } from "../../_util/wait_for.ts";

/** A PUBLISH that answers `receivers()` for each message, or fails while `down`. */
function scriptedRedis() {
  const delivered: string[] = [];
  const state = { down: false, receivers: 1 };
  const publish = (text: string) => {
    if (state.down) return Promise.reject(new Error("The client is closed"));
    if (state.receivers > 0) delivered.push(text);
    return Promise.resolve(state.receivers);
  };
  return { publish, delivered, state };
}

Deno.test("redis outbox: an outage delays messages, loses none, keeps their order", async () => {
  const redis = scriptedRedis();
  const outbox = new RedisOutbox(redis.publish, { maxBytes: 1 << 20, maxAgeMs: 10_000 }, true);
  outbox.push("1");
  redis.state.down = true;
  for (const n of ["2", "3", "4"]) outbox.push(n);
  await new Promise((r) => setTimeout(r, 60));
  redis.state.down = false;
  redis.state.receivers = 0; // Redis is back, the receiver not yet subscribed again
  await new Promise((r) => setTimeout(r, 60));
  redis.state.receivers = 1;
  outbox.push("5");
  await waitFor(() => redis.delivered.length === 5, { timeoutMs: 5000, what: "all delivered" });
  assert.deepEqual(redis.delivered, ["1", "2", "3", "4", "5"]);
  assert.equal(outbox.dropped, 0);
  outbox.close();
});

Deno.test("redis outbox: past its age bound a waiting message is dropped and counted", async () => {
  const redis = scriptedRedis();
  const outbox = new RedisOutbox(redis.publish, { maxBytes: 1 << 20, maxAgeMs: 50 }, true);
  redis.state.down = true;
  outbox.push("old");
  await new Promise((r) => setTimeout(r, 120));
  outbox.push("new");
  redis.state.down = false;
  await waitFor(() => redis.delivered.length === 1, {
    timeoutMs: 5000,
    what: "the new one delivered",
  });
  assert.deepEqual(redis.delivered, ["new"]);
  assert.equal(outbox.dropped, 1);
  outbox.close();
});

Deno.test("redis outbox: past its size bound the oldest waiting messages are dropped", async () => {
  const redis = scriptedRedis();
  const outbox = new RedisOutbox(redis.publish, { maxBytes: 10, maxAgeMs: 10_000 }, true);
  redis.state.down = true;
  outbox.push("x"); // fails: the outbox starts holding what follows
  await new Promise((r) => setTimeout(r, 10));
  for (const text of ["aaaa", "bbbb", "cccc"]) outbox.push(text);
  redis.state.down = false;
  await waitFor(() => redis.delivered.length >= 2, { timeoutMs: 5000, what: "delivered" });
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(redis.delivered, ["bbbb", "cccc"]);
  assert.equal(outbox.dropped, 2, "x and aaaa went over the 10-byte bound");
  outbox.close();
});

Deno.test("redis outbox: a broadcast channel needs no receiver, only a successful publish", async () => {
  const redis = scriptedRedis();
  redis.state.receivers = 0;
  const outbox = new RedisOutbox(redis.publish, { maxBytes: 1 << 20, maxAgeMs: 10_000 }, false);
  outbox.push("to whoever listens");
  await new Promise((r) => setTimeout(r, 20));
  outbox.push("next");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(outbox.dropped, 0);
  outbox.close();
});
