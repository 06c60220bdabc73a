/**
 * `WSTUN_WORKERS=2 deno task start`: whichever worker the kernel hands a scrape to, `/metrics`
 * answers for the whole server, each worker's series labelled with its isolate.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parsePrometheus, type PromFamily, promValue } from "../_util/prometheus_text.ts";
import { freePort } from "../_util/server.ts";
import { startServerProcess } from "../_util/server_process.ts";

/** One scrape on a fresh TCP connection, so the kernel picks a worker for each. */
async function scrapeFresh(port: number): Promise<Map<string, PromFamily>> {
  const client = Deno.createHttpClient({});
  try {
    // Deno's fetch takes `client`; the DOM's RequestInit type does not know it.
    const init = { client, headers: { authorization: "Bearer scrape" } } as RequestInit;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, init);
    assert.equal(response.status, 200);
    return parsePrometheus(await response.text());
  } finally {
    client.close();
  }
}

function isolatesOf(families: Map<string, PromFamily>): string[] {
  return families.get("wstun_build_info")!.samples.map((s) => s.labels.isolate).sort();
}

/** The isolate that answered: the one labelling the scrape's own gauge. */
function answeredBy(families: Map<string, PromFamily>): string {
  return families.get("wstun_scrape_isolates_missing")!.samples[0].labels.isolate;
}

Deno.test("WSTUN_WORKERS=2 deno task start: /metrics on either worker has both workers' series", async () => {
  const port = freePort();
  await using _server = await startServerProcess({
    PORT: String(port),
    WSTUN_WORKERS: "2",
    WSTUN_METRICS_TOKEN: "scrape",
  }, { task: true });
  // Each worker asks the siblings it has heard on the bridge: both, once their first beats are in.
  let page = await scrapeFresh(port);
  for (let i = 0; i < 50 && isolatesOf(page).length < 2; i++) page = await scrapeFresh(port);
  const workers = isolatesOf(page);
  assert.equal(workers.length, 2, "both workers' series");
  const answering = new Set<string>();
  for (let i = 0; i < 20 && answering.size < 2; i++) {
    const scrape = await scrapeFresh(port);
    answering.add(answeredBy(scrape));
    assert.deepEqual(isolatesOf(scrape), workers);
    assert.equal(promValue(scrape, "wstun_scrape_isolates_missing"), 0);
    for (const isolate of workers) {
      assert.ok(promValue(scrape, "wstun_start_time_seconds", { isolate }) > 0, isolate);
    }
  }
  assert.deepEqual([...answering].sort(), workers, "the kernel gave scrapes to both workers");
});
