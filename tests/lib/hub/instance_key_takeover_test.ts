import assert from "node:assert/strict";
import { startServer } from "../../_util/server.ts";
import { TestSocket } from "../../_util/test_socket.ts";
import { waitFor } from "../../_util/wait_for.ts";

const KEY = "a-key-of-at-least-16-chars";

Deno.test("create_instance with a key: same key, same uuid; presenting it again takes the instance over", async () => {
  await using server = await startServer({ hostGraceMs: 0 });
  const first = await TestSocket.open(server.wsUrl);
  const created = await first.request({
    type: "create_instance",
    service: "udp",
    name: "a",
    key: KEY,
  });
  assert.equal(created.type, "instance_created");
  assert.match(created.uuid, /^K[A-Za-z0-9_-]{25}$/);

  await using second = await TestSocket.open(server.wsUrl);
  const taken = await second.request({
    type: "create_instance",
    service: "udp",
    name: "a",
    key: KEY,
  });
  assert.deepEqual(taken, {
    type: "instance_resumed",
    uuid: created.uuid,
    members: [],
    ref: taken.ref,
  });
  assert.deepEqual(await first.next(), {
    type: "instance_closed",
    uuid: created.uuid,
    reason: "resumed_elsewhere",
  });
  await first.close();

  await second.close();
  // The instance ends with its host (grace 0); the key recreates it under the same uuid.
  await waitFor(() => server.hub.instances.size === 0, { what: "instance ended" });
  await using third = await TestSocket.open(server.wsUrl);
  const again = await third.request({
    type: "create_instance",
    service: "udp",
    name: "a",
    key: KEY,
  });
  assert.deepEqual([again.type, again.uuid], ["instance_created", created.uuid]);
  const chat = await third.request({
    type: "create_instance",
    service: "chat",
    name: "a",
    key: KEY,
  });
  assert.notEqual(chat.uuid, created.uuid);
});

Deno.test("create_instance with a key shorter than 22 characters is refused", async () => {
  await using server = await startServer();
  await using host = await TestSocket.open(server.wsUrl);
  const answer = await host.request({
    type: "create_instance",
    service: "udp",
    name: "a",
    key: "short",
  });
  assert.deepEqual([answer.type, answer.code], ["error", "invalid_message"]);
  assert.match(answer.message, /^key:/);
});
