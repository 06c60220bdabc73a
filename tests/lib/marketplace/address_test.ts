/**
 * Where marketplace fetches may go and where they connect: private addresses are refused by
 * default and in every spelling, and the connection goes to the address that was checked (no
 * second DNS lookup for a rebinding server to answer differently). Everything listens on
 * loopback; tests that name other addresses inject a transport or `fetch` that never connects.
 */
import { assert, assertEquals, assertMatch } from "../../_util/marketplace/assert.ts";
import { ADMIN_TOKEN, MarketplaceApp, MarketplaceServer } from "../../_util/marketplace/fixture.ts";
import { startServer } from "../../_util/server.ts";
import { Marketplace } from "../../../lib/marketplace/mod.ts";
import {
  pinnedTransport,
  type TransportRequest,
} from "../../../lib/marketplace/pinned_transport.ts";
import { ServiceCatalog } from "../../../lib/service_catalog.ts";

const TLS_CERT = await Deno.readTextFile(new URL("./tls/market_test_cert.pem", import.meta.url));
const TLS_KEY = await Deno.readTextFile(new URL("./tls/market_test_key.pem", import.meta.url));

async function install(origin: string, body: unknown) {
  const response = await fetch(`${origin}/_api/marketplace/install`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

Deno.test("address: a server started with defaults refuses a loopback marketplace, saying how to allow it", async () => {
  // Port 9 (discard): were the policy to let it through, the answer would be 502, not 422.
  await using server = await startServer({ adminToken: ADMIN_TOKEN });
  const answer = await install(server.base, { url: "http://127.0.0.1:9/index.json", name: "poll" });
  assertEquals([answer.status, answer.json.error], [422, "private_address"]);
  assertMatch(answer.json.message, /WSTUN_MARKETPLACE_ALLOW_PRIVATE=true/);
});

Deno.test("address: private addresses are refused in every URL spelling, before any request", async () => {
  const requested: string[] = [];
  const recording: typeof fetch = (input) => {
    requested.push(String(input));
    return Promise.resolve(new Response("no", { status: 500 }));
  };
  const app = await MarketplaceApp.start({ limits: { allowPrivate: false }, fetch: recording });
  try {
    const hosts = [
      "127.0.0.1",
      "0x7f.1", // the URL parser makes it 127.0.0.1
      "2130706433",
      "0.0.0.0",
      "localhost",
      "a.localhost",
      "[::1]",
      "[::127.0.0.1]", // IPv4-compatible
      "[::ffff:127.0.0.1]",
      "[::ffff:0:7f00:1]", // IPv4-translated
      "[64:ff9b::a00:1]", // NAT64 of 10.0.0.1
      "[2002:7f00:1::]", // 6to4 of 127.0.0.1
      "[2001::1]", // Teredo
      "[fec0::1]", // site-local
      "[100::1]", // discard-only
      "[fd00::1]",
      "[fe80::1]",
      "[ff02::1]",
    ];
    for (const host of hosts) {
      const answer = await app.api("POST", "/_api/marketplace/install", {
        url: `http://${host}/index.json`,
        name: "poll",
      });
      assertEquals([answer.status, answer.json.error], [422, "private_address"], host);
    }
    assertEquals(requested, []);
  } finally {
    await app.close();
  }
});

Deno.test("address: the connection goes to the address the check resolved, not to a second lookup", async () => {
  // The marketplace listens on 127.0.0.2 only. The injected resolver says "localhost" is there;
  // the system (/etc/hosts) says 127.0.0.1, where nothing listens. Only a fetch that connects to
  // the checked address installs.
  const market = await MarketplaceServer.start("127.0.0.2");
  const resolved: string[] = [];
  const app = await MarketplaceApp.start({
    resolveHost: (host) => {
      resolved.push(host);
      return host === "localhost"
        ? Promise.resolve(["127.0.0.2"])
        : Promise.reject(new Error(`unexpected ${host}`));
    },
  });
  try {
    const indexUrl = `http://localhost:${market.port}/index.json`;
    const answer = await app.api("POST", "/_api/marketplace/install", {
      url: indexUrl,
      name: "poll",
    });
    assertEquals(answer.status, 201, JSON.stringify(answer.json));
    assert(market.requests.length > 2);
    assertEquals(new Set(market.hosts), new Set([`localhost:${market.port}`]), "Host is the URL's");
    // One resolution per request: the connection never asked anyone else.
    assertEquals(resolved.length, market.requests.length);
  } finally {
    await app.close();
    await market.close();
  }
});

Deno.test("address: https goes to the checked address with the URL's name for SNI, certificate and Host", async () => {
  const hosts: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.2", port: 0, cert: TLS_CERT, key: TLS_KEY, onListen() {} },
    (request) => {
      hosts.push(request.headers.get("host") ?? "");
      return new Response("tls ok");
    },
  );
  const get = pinnedTransport({ caCerts: [TLS_CERT] });
  const signal = new AbortController().signal;
  const port = server.addr.port;
  try {
    const response = await get({
      url: new URL(`https://market.test:${port}/index.json`),
      addresses: ["127.0.0.2"],
      signal,
    });
    assertEquals([response.status, await response.text()], [200, "tls ok"]);
    assertEquals(hosts, [`market.test:${port}`]);
    // The certificate is for market.test: the same address under another name is refused.
    let refused = "";
    await get({ url: new URL(`https://other.test:${port}/`), addresses: ["127.0.0.2"], signal })
      .then((r) => r.body?.cancel(), (e: Error) => refused = e.message);
    assertMatch(refused, /other\.test/);
    assertEquals(hosts.length, 1);
  } finally {
    await server.shutdown();
  }
});

/** A Marketplace whose transport records where it was asked to connect and never connects. */
async function recordingMarketplace(answers: string[][]) {
  const kv = await Deno.openKv(":memory:");
  const connections: TransportRequest[] = [];
  let lookups = 0;
  const marketplace = new Marketplace({
    kv,
    catalog: new ServiceCatalog(),
    limits: { allowPrivate: false },
    resolveHost: () => Promise.resolve(answers[Math.min(lookups++, answers.length - 1)]),
    transport: (request) => {
      connections.push(request);
      return Promise.resolve(new Response("gone", { status: 404 }));
    },
  });
  return { marketplace, connections, lookups: () => lookups, close: () => kv.close() };
}

Deno.test("address: a name that answers public, then private, is connected to the public answer it was checked as", async () => {
  const m = await recordingMarketplace([["93.184.216.34"], ["127.0.0.1"]]);
  try {
    const result = await m.marketplace.browse("http://rebind.example/index.json");
    assert(!result.ok);
    assertEquals(result.error.code, "upstream_failed");
    assertEquals(m.connections.map((c) => [c.url.href, c.addresses]), [
      ["http://rebind.example/index.json", ["93.184.216.34"]],
    ]);
    assertEquals(m.lookups(), 1);
  } finally {
    m.close();
  }
});

Deno.test("address: one private address among a name's answers refuses the name", async () => {
  const m = await recordingMarketplace([["93.184.216.34", "10.0.0.7"]]);
  try {
    const result = await m.marketplace.browse("http://mixed.example/index.json");
    assert(!result.ok);
    assertEquals(result.error.code, "private_address");
    assertMatch(result.error.message, /^mixed\.example \(10\.0\.0\.7\) is a loopback or private/);
    assertEquals(m.connections, []);
  } finally {
    m.close();
  }
});
