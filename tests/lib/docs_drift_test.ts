/**
 * The docs cannot drift from the code: every configuration variable is in the README's table
 * (or under a `PREFIX_*` row whose linked page names it), and every error code, close code and
 * `/_api/stats` field is in docs/protocol.md, the contract other clients implement.
 */
import assert from "node:assert/strict";
import { ConfigSchema } from "../../lib/config.ts";
import { bridgeEnvShape } from "../../lib/bridge/config.ts";
import { marketplaceEnvShape } from "../../lib/marketplace/config.ts";
import { pubsubEnvShape } from "../../lib/pubsub/config.ts";
import { tunnelEnvShape } from "../../lib/tunnel/tunnel_config.ts";
import { Disconnects, ErrorCode } from "../../lib/protocol.ts";
import { startServer } from "../_util/server.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

/** The rows of the README's "Configuration" table: the names in the first cell, the links. */
async function configurationRows(): Promise<{ names: string[]; links: string[] }[]> {
  const readme = await read("README.md");
  const section = readme.split("\n## Configuration\n")[1].split("\n## ")[0];
  return section.split("\n").filter((line) => line.startsWith("| `")).map((line) => {
    const first = line.split(" | ")[0];
    return {
      names: [...first.matchAll(/`([A-Z0-9_*]+)`/g)].map((m) => m[1]),
      links: [...line.matchAll(/\]\(((?:docs\/)?[a-z_]+\.md)/g)].map((m) => m[1]),
    };
  });
}

Deno.test("docs: every package's variables are in the one configuration schema", () => {
  const names = new Set(Object.keys(ConfigSchema.shape));
  for (const shape of [bridgeEnvShape, marketplaceEnvShape, pubsubEnvShape, tunnelEnvShape]) {
    for (const name of Object.keys(shape)) assert.ok(names.has(name), name);
  }
});

Deno.test("docs: every configuration variable is in the README's table", async () => {
  const rows = await configurationRows();
  const missing: string[] = [];
  for (const name of Object.keys(ConfigSchema.shape)) {
    if (rows.some((row) => row.names.includes(name))) continue;
    const wildcard = rows.find((row) =>
      row.names.some((n) => n.endsWith("*") && name.startsWith(n.slice(0, -1)))
    );
    const pages = await Promise.all((wildcard?.links ?? []).map(read));
    if (!pages.some((page) => page.includes(name))) missing.push(name);
  }
  assert.deepEqual(missing, [], "add a row to README.md's table (or name it on the linked page)");
});

Deno.test("docs: every error code and close code is in docs/protocol.md", async () => {
  const protocol = await read("docs/protocol.md");
  const codes = Object.values(ErrorCode).filter((code) => !protocol.includes(`\`${code}\``));
  assert.deepEqual(codes, [], "error codes missing from docs/protocol.md");
  const closes = [...new Set(Object.values(Disconnects).map((d) => d.code))]
    .filter((code) => !new RegExp(`^\\| ${code} \\|`, "m").test(protocol));
  assert.deepEqual(closes, [], "close codes missing from docs/protocol.md's table");
});

Deno.test("docs: every /_api/stats field is in docs/protocol.md", async () => {
  await using server = await startServer();
  const stats = await (await fetch(`${server.base}/_api/stats`)).json();
  const line = (await read("docs/protocol.md")).split("\n").find((l) =>
    l.startsWith("| `GET /_api/stats` |")
  );
  assert.ok(line, "docs/protocol.md has a GET /_api/stats row");
  const listed = new Set(/\{([^}]*)\}/.exec(line)![1].split(",").map((s) => s.trim()));
  assert.deepEqual(Object.keys(stats).filter((key) => !listed.has(key)), []);
  assert.deepEqual([...listed].filter((key) => !(key in stats)), []);
});

Deno.test("docs: every source or test file the README and docs/ name exists", async () => {
  const pages = ["README.md", "tests/README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  const path =
    /\b(?:lib|routes|tests|bench|cli|static|services|examples)\/[\w/.-]+\.(?:ts|js|mjs|html)\b/g;
  const missing: string[] = [];
  for (const page of pages) {
    for (const [named] of (await read(page)).matchAll(path)) {
      if (/\/x(?:_test)?\.\w+$/.test(named)) continue; // a pattern such as tests/lib/x_test.ts
      try {
        await Deno.stat(new URL(named, root));
      } catch {
        missing.push(`${page}: ${named}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
