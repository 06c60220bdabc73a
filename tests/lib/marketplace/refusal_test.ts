/**
 * Every way an install can be refused: each answer has the right status and code, names what was
 * wrong, and leaves nothing behind (no KV keys, no catalog entry).
 */
import { assert, assertEquals, assertMatch } from "../../_util/marketplace/assert.ts";
import { EXAMPLE_DIR, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";
import { BUILTIN_SERVICES } from "../../../lib/service_catalog.ts";

type Manifest = {
  name: string;
  files: { path: string; sha256: string; size: number }[];
  [key: string]: unknown;
};

interface Refusal {
  status: number;
  error: string;
  /** The message must match this. */
  message: RegExp;
  /** Edit the served marketplace before installing. */
  prepare?: (market: MarketplaceServer) => Promise<void>;
  /** The install body; default: poll from the index. */
  body?: (market: MarketplaceServer) => unknown;
  options?: Parameters<typeof MarketplaceApp.start>[0];
  /** Sees the refusal's body after the common checks. */
  inspect?: (answer: Record<string, unknown>) => void;
}

async function editManifest(market: MarketplaceServer, edit: (m: Manifest) => void): Promise<void> {
  const manifest = await market.readJson<Manifest>("poll/manifest.json");
  edit(manifest);
  await market.writeJson("poll/manifest.json", manifest);
}

async function expectRefusal(refusal: Refusal): Promise<void> {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start(refusal.options);
  try {
    await refusal.prepare?.(market);
    const body = refusal.body?.(market) ?? { url: market.indexUrl, name: "poll" };
    const answer = await app.api("POST", "/_api/marketplace/install", body);
    assertEquals({ status: answer.status, error: answer.json.error }, {
      status: refusal.status,
      error: refusal.error,
    }, JSON.stringify(answer.json));
    assertMatch(String(answer.json.message), refusal.message);
    refusal.inspect?.(answer.json);
    assertEquals(await app.storedKeys(), [], "nothing may be left in KV");
    assertEquals(app.catalog.list().map((s) => s.name), BUILTIN_SERVICES.map((s) => s.name));
    const page = await fetch(`${app.origin}/poll/main`);
    assertEquals(page.status, 404);
    await page.body?.cancel();
  } finally {
    await app.close();
    await market.close();
  }
}

Deno.test("refused: a file whose SHA-256 differs from the manifest installs nothing (422 hash_mismatch)", () =>
  expectRefusal({
    status: 422,
    error: "hash_mismatch",
    message: /main\.html has SHA-256 [0-9a-f]{64}; the manifest declares/,
    // Same length, different bytes: only the hash can catch it.
    prepare: async (market) => {
      const html = await Deno.readTextFile(`${market.root}/poll/main.html`);
      await market.writeText(
        "poll/main.html",
        html.replace("<title>Poll</title>", "<title>Evil</title>"),
      );
    },
  }));

Deno.test("refused: a file longer than its declared size (422 size_mismatch)", () =>
  expectRefusal({
    status: 422,
    error: "size_mismatch",
    message: /poll\.css is larger than the \d+ bytes the manifest declares/,
    prepare: async (market) => {
      await market.writeText(
        "poll/poll.css",
        (await Deno.readTextFile(`${market.root}/poll/poll.css`)) + "/* more */",
      );
    },
  }));

Deno.test("refused: a file over WSTUN_MARKETPLACE_MAX_FILE_BYTES, before it is fetched (422 file_too_large)", () =>
  expectRefusal({
    status: 422,
    error: "file_too_large",
    message: /host\.js is \d+ bytes; at most 1000 are allowed \(WSTUN_MARKETPLACE_MAX_FILE_BYTES\)/,
    options: { limits: { maxFileBytes: 1000 } },
  }));

Deno.test("refused: a bundle over WSTUN_MARKETPLACE_MAX_TOTAL_BYTES (422 bundle_too_large)", () =>
  expectRefusal({
    status: 422,
    error: "bundle_too_large",
    message: /at most 5000 are allowed \(WSTUN_MARKETPLACE_MAX_TOTAL_BYTES\)/,
    options: { limits: { maxTotalBytes: 5000 } },
  }));

Deno.test("refused: more files than WSTUN_MARKETPLACE_MAX_FILES (422 too_many_files)", () =>
  expectRefusal({
    status: 422,
    error: "too_many_files",
    message: /lists 5 files; at most 3 are allowed/,
    options: { limits: { maxFiles: 3 } },
  }));

for (
  const [label, path] of [
    ["a '..' traversal", "../secret.txt"],
    ["a nested traversal", "js/../../secret.txt"],
    ["an absolute path", "/etc/passwd"],
    ["a backslash", "js\\evil.js"],
    ["a percent-encoded traversal", "%2e%2e/secret.txt"],
  ] as const
) {
  Deno.test(`refused: a manifest path with ${label} (422 invalid_manifest naming the file)`, () =>
    expectRefusal({
      status: 422,
      error: "invalid_manifest",
      message: /^manifest: files\.5\.path: /,
      prepare: (market) =>
        editManifest(market, (m) => m.files.push({ path, sha256: "0".repeat(64), size: 1 })),
    }));
}

Deno.test("refused: a manifest whose endpoint is not one of its files", () =>
  expectRefusal({
    status: 422,
    error: "invalid_manifest",
    message: /endpoints\.main: main\.html is not in files/,
    prepare: (market) =>
      editManifest(market, (m) => (m.files = m.files.filter((f) => f.path !== "main.html"))),
  }));

for (const name of ["chat", "fileshare", "admin", "ws", "broadcast", "t", "static"]) {
  Deno.test(`refused: the reserved name ${name} (422 reserved_name)`, () =>
    expectRefusal({
      status: 422,
      error: "reserved_name",
      message: new RegExp(`^${name} is the name of a built-in service or a server route`),
      prepare: async (market) => {
        await editManifest(market, (m) => (m.name = name));
        const index = await market.readJson<{ services: { name: string }[] }>("index.json");
        index.services[0].name = name;
        await market.writeJson("index.json", index);
      },
      body: (market) => ({ manifest: market.url("poll/manifest.json") }),
    }));
}

Deno.test("refused: a name breaking the rules in the request (400 invalid_request)", () =>
  expectRefusal({
    status: 400,
    error: "invalid_request",
    message: /name: must be 1-40 lowercase letters, digits or '-'/,
    body: (market) => ({ url: market.indexUrl, name: "Poll!" }),
  }));

/** Fails when `message` quotes any 8 consecutive characters of `fetched`. */
function assertQuotesNothingOf(message: string, fetched: string): void {
  for (let i = 0; i + 8 <= fetched.length; i++) {
    const piece = fetched.slice(i, i + 8);
    assert(!message.includes(piece), `the message quotes ${JSON.stringify(piece)}: ${message}`);
  }
}

Deno.test("refused: an index that is not JSON (422 invalid_index), without quoting it", async () => {
  // The case: a URL that serves a script, not an index.
  const script = await Deno.readTextFile(`${EXAMPLE_DIR}/poll/host.js`);
  for (const text of ["<html>not an index</html>", script, '{"name": "x", secret-token-123']) {
    let message = "";
    await expectRefusal({
      status: 422,
      error: "invalid_index",
      message: /^the index is not valid JSON/,
      prepare: (market) => market.writeText("index.json", text),
      inspect: (answer) => message = String(answer.message),
    });
    assertQuotesNothingOf(message, text);
  }
});

Deno.test("refused: an index that is not UTF-8 (422 invalid_index)", () =>
  expectRefusal({
    status: 422,
    error: "invalid_index",
    message: /^the index is not UTF-8 text$/,
    prepare: (market) => Deno.writeFile(`${market.root}/index.json`, new Uint8Array([0x7b, 0xff])),
  }));

Deno.test("refused: an index in the wrong shape names the field (422 invalid_index)", () =>
  expectRefusal({
    status: 422,
    error: "invalid_index",
    message: /^index: services\.0\.version: /,
    prepare: (market) =>
      market.writeJson("index.json", {
        name: "x",
        services: [{ name: "poll", description: "", manifest: "m" }],
      }),
  }));

Deno.test("refused: a manifest that is not JSON (422 invalid_manifest)", () =>
  expectRefusal({
    status: 422,
    error: "invalid_manifest",
    message: /^the manifest is not valid JSON/,
    prepare: (market) => market.writeText("poll/manifest.json", "{"),
  }));

Deno.test("refused: a name the index does not have (422 not_in_index)", () =>
  expectRefusal({
    status: 422,
    error: "not_in_index",
    message: /has no service named chess/,
    body: (market) => ({ url: market.indexUrl, name: "chess" }),
  }));

Deno.test("refused: a manifest for another name than the index entry (422 name_mismatch)", () =>
  expectRefusal({
    status: 422,
    error: "name_mismatch",
    message: /the manifest is for other, not poll/,
    prepare: (market) => editManifest(market, (m) => (m.name = "other")),
  }));

Deno.test("refused: an unreachable marketplace (502 unreachable)", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await expectRefusal({
    status: 502,
    error: "unreachable",
    message: /^cannot reach http:\/\/127\.0\.0\.1:\d+\/index\.json/,
    body: () => ({ url: `http://127.0.0.1:${port}/index.json`, name: "poll" }),
  });
});

Deno.test("refused: a marketplace answering 404 (502 upstream_failed)", () =>
  expectRefusal({
    status: 502,
    error: "upstream_failed",
    message: /nothing\.json answered HTTP 404/,
    body: (market) => ({ url: market.url("nothing.json"), name: "poll" }),
  }));

Deno.test("refused: a body that stalls past the fetch time-out (502 unreachable)", () =>
  expectRefusal({
    status: 502,
    error: "unreachable",
    message: /stall timed out after 200 ms/,
    options: { limits: { fetchTimeoutMs: 200 } },
    body: (market) => ({ url: market.url("stall"), name: "poll" }),
  }));

Deno.test("refused: more redirects than WSTUN_MARKETPLACE_MAX_REDIRECTS (502 upstream_failed)", () =>
  expectRefusal({
    status: 502,
    error: "upstream_failed",
    message: /redirected more than 3 times/,
    body: (market) => ({ url: market.url("redirect/4/index.json"), name: "poll" }),
  }));

Deno.test("refused: a non-http URL (422 invalid_url)", () =>
  expectRefusal({
    status: 422,
    error: "invalid_url",
    message: /only http and https URLs are allowed, not file:/,
    body: () => ({ url: "file:///etc/passwd", name: "poll" }),
  }));

Deno.test("refused: loopback marketplaces when WSTUN_MARKETPLACE_ALLOW_PRIVATE=false (422 private_address)", () =>
  expectRefusal({
    status: 422,
    error: "private_address",
    message:
      /^127\.0\.0\.1 is a loopback or private address \(loopback 127\.0\.0\.0\/8\); marketplaces there are refused unless WSTUN_MARKETPLACE_ALLOW_PRIVATE=true$/,
    options: { limits: { allowPrivate: false } },
  }));

Deno.test("refused: a public name that resolves to a private address when private is refused", () =>
  expectRefusal({
    status: 422,
    error: "private_address",
    message: /market\.example \(10\.1\.2\.3\) is a loopback or private address/,
    options: { limits: { allowPrivate: false }, resolveHost: () => Promise.resolve(["10.1.2.3"]) },
    body: () => ({ url: "http://market.example/index.json", name: "poll" }),
  }));

Deno.test("redirects within the limit are followed", async () => {
  const market = await MarketplaceServer.start();
  const app = await MarketplaceApp.start();
  try {
    const answer = await app.api("POST", "/_api/marketplace/install", {
      url: market.url("redirect/3/index.json"),
      name: "poll",
    });
    assertEquals(answer.status, 201);
    assert(
      market.requests.includes("/poll/manifest.json"),
      "the manifest resolves against the final URL",
    );
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("refused: a file shorter than its declared size (422 size_mismatch)", () =>
  expectRefusal({
    status: 422,
    error: "size_mismatch",
    message: /^poll\.css is \d+ bytes; the manifest declares \d+$/,
    prepare: async (market) => {
      const css = await Deno.readTextFile(`${market.root}/poll/poll.css`);
      await market.writeText("poll/poll.css", css.slice(0, -10));
    },
  }));

Deno.test("refused: a public marketplace redirecting to a private address, when private is refused", () => {
  // market.example resolves to a public address; its (injected) answer redirects to loopback.
  // Every hop must pass the address check, not just the first.
  const publicFetch: typeof fetch = (input) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== "market.example") return Promise.reject(new Error(`unexpected ${url}`));
    const location = "http://127.0.0.1:9/index.json";
    return Promise.resolve(new Response(null, { status: 302, headers: { location } }));
  };
  return expectRefusal({
    status: 422,
    error: "private_address",
    message: /^127\.0\.0\.1 is a loopback or private address/,
    options: {
      limits: { allowPrivate: false },
      resolveHost: () => Promise.resolve(["93.184.216.34"]),
      fetch: publicFetch,
    },
    body: () => ({ url: "http://market.example/index.json", name: "poll" }),
  });
});
