/**
 * Every log event the server writes is documented: the event names are constants of the code
 * (lib/log.ts), so the test reads them from the sources and looks for each in
 * docs/operations.md ("Logs").
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Every `.ts` file below `dir` (a URL ending in `/`). */
async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

Deno.test("docs/operations.md lists every log event the server writes", async () => {
  const doc = await Deno.readTextFile(new URL("docs/operations.md", ROOT));
  const files = [new URL("main.ts", ROOT), new URL("worker.ts", ROOT)];
  for (const dir of ["lib/", "routes/"]) {
    for await (const file of sources(new URL(dir, ROOT))) files.push(file);
  }
  const events = new Set<string>();
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    for (
      const [, event] of text.matchAll(/\.(?:debug|info|warn|error)\(\s*"([a-z_]+\.[a-z_.]+)"/g)
    ) {
      events.add(event);
    }
  }
  assert.ok(events.has("bridge.silent") && events.has("upgrade.refused"), [...events].join(" "));
  for (const event of events) assert.ok(doc.includes(`\`${event}\``), `${event} is not documented`);
});
