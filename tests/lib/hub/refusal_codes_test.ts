/**
 * Refusals are counted by their error code wherever the hub answers them: an `error` frame, a
 * join's failed `ack`, and a refusal the connection asks the hub to send (a frame that is not
 * JSON). `/_api/stats` `errors` is their sum.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parsePrometheus } from "../../_util/prometheus_text.ts";
import { startServer } from "../../_util/server.ts";
import { TestSocket } from "../../_util/test_socket.ts";

const NO_SUCH = "01NOSUCHINSTANCE000000000";

Deno.test("refusals: each error frame and failed ack counted by its code, none unattributed", async () => {
  await using server = await startServer({ metricsToken: "scrape" });
  await using socket = await TestSocket.open(server.wsUrl);
  const error = await socket.request({ type: "chat", uuid: NO_SUCH, text: "lost" });
  assert.equal(error.code, "unknown_instance");
  const ack = await socket.request({ type: "join_instance", uuid: NO_SUCH, userId: "ann" });
  assert.deepEqual([ack.type, ack.success, ack.error], ["ack", false, "unknown_instance"]);
  socket.sendRaw("{not json");
  assert.equal((await socket.next()).code, "bad_json");

  const response = await fetch(`${server.base}/metrics`, {
    headers: { authorization: "Bearer scrape" },
  });
  const refusals = parsePrometheus(await response.text()).get("wstun_refusals_total")!;
  const byCode = Object.fromEntries(refusals.samples.map((s) => [s.labels.code, s.value]));
  assert.deepEqual(byCode, { unknown_instance: 2, bad_json: 1 });
  const stats = await (await fetch(`${server.base}/_api/stats`)).json();
  assert.equal(stats.errors, 3);
});
