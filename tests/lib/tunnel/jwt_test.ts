/**
 * Registration tokens: every vector of issue 9, first against `verifyTunnelToken` (the reason
 * code), then through a real server (the HTTP status a client sees).
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import assert from "node:assert/strict";
import { signTunnelToken, verifyTunnelToken } from "../../../lib/tunnel/jwt.ts";
import {
  registrationSocket,
  SECRET_A,
  SECRET_B,
  startTunnelServer,
} from "../../_util/tunnel/fixture.ts";

const NOW = 1_800_000_000;
const DAY = 86_400;

function b64(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString(
    "base64url",
  );
}

/** A token with exactly the header, claims and signing key given. */
function craft(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  secret = SECRET_A,
  hash = "sha256",
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
}

/** Signs an arbitrary signing input with secret A. */
function signRaw(input: string): string {
  return `${input}.${createHmac("sha256", SECRET_A).update(input).digest("base64url")}`;
}

const HS256 = { alg: "HS256", typ: "JWT" };
const good = { tid: "demo", iat: NOW, nbf: NOW - 60, exp: NOW + 3600 };

/** [name, token, expected code, audience] */
const vectors: [string, string, string, string?][] = [
  ["wrong secret", craft(HS256, good, "not-the-secret"), "token_bad_signature"],
  ["alg none", `${b64({ alg: "none" })}.${b64(good)}.`, "token_malformed"],
  ["alg none with a signature", `${b64({ alg: "none" })}.${b64(good)}.AAAA`, "token_bad_alg"],
  ["RS256 header", craft({ alg: "RS256", typ: "JWT" }, good), "token_bad_alg"],
  ["HS384", craft({ alg: "HS384", typ: "JWT" }, good, SECRET_A, "sha384"), "token_bad_alg"],
  ["missing exp", craft(HS256, { ...good, exp: undefined }), "token_missing_claim"],
  ["missing nbf", craft(HS256, { ...good, nbf: undefined }), "token_missing_claim"],
  ["string exp", craft(HS256, { ...good, exp: String(NOW + 10) }), "token_missing_claim"],
  ["expired", craft(HS256, { ...good, exp: NOW - 1 }), "token_expired"],
  ["not yet valid", craft(HS256, { ...good, nbf: NOW + 60 }), "token_not_yet_valid"],
  ["tid differs from the id", craft(HS256, { ...good, tid: "other" }), "token_wrong_tid"],
  ["no tid", craft(HS256, { ...good, tid: undefined }), "token_wrong_tid"],
  [
    "lifetime of 32 days",
    craft(HS256, { ...good, nbf: NOW - DAY, exp: NOW + 31 * DAY }),
    "token_lifetime",
  ],
  ["wrong aud", craft(HS256, { ...good, aud: "elsewhere" }), "token_audience", "wstun"],
  ["missing aud when configured", craft(HS256, good), "token_audience", "wstun"],
  ["aud with no audience configured", craft(HS256, { ...good, aud: "wstun" }), "token_audience"],
  ["malformed base64", craft(HS256, good).replace(".", ".!"), "token_malformed"],
  [
    "an unsigned token with claims that are not JSON",
    `${b64(HS256)}.${b64("x")}.AAAA`,
    "token_bad_signature",
  ],
  [
    "a signed token with claims that are not JSON",
    signRaw(`${b64(HS256)}.${b64("[1")}`),
    "token_malformed",
  ],
  ["extra segments", `${craft(HS256, good)}.AAAA`, "token_malformed"],
  ["two segments", `${b64(HS256)}.${b64(good)}`, "token_malformed"],
  ["64 KiB token", `${b64(HS256)}.${"A".repeat(64 * 1024)}.AAAA`, "token_too_large"],
  [
    "an exp of 1e400 (Infinity once parsed)",
    signRaw(`${b64(HS256)}.${b64(`{"tid":"demo","nbf":${NOW - 60},"exp":1e400}`)}`),
    "token_missing_claim",
  ],
  ["a string iat", craft(HS256, { ...good, iat: "yesterday" }), "token_malformed"],
];

for (const [name, token, code, audience] of vectors) {
  Deno.test(`jwt: ${name} is refused with ${code}`, async () => {
    const r = await verifyTunnelToken(token, {
      id: "demo",
      secretA: SECRET_A,
      secretB: SECRET_B,
      audience,
      nowSeconds: NOW,
    });
    assert.deepEqual(r.ok ? "accepted" : r.code, code);
  });
}

Deno.test("jwt: tokens signed with secret A or secret B are accepted, 31 days exactly too", async () => {
  const options = { id: "demo", secretA: SECRET_A, secretB: SECRET_B, nowSeconds: NOW };
  assert.deepEqual((await verifyTunnelToken(craft(HS256, good), options)).ok, true);
  assert.deepEqual((await verifyTunnelToken(craft(HS256, good, SECRET_B), options)).ok, true);
  const month = craft(HS256, { ...good, nbf: NOW - DAY, exp: NOW + 30 * DAY });
  assert.deepEqual((await verifyTunnelToken(month, options)).ok, true);
});

Deno.test("jwt: a configured audience accepts an equal aud, as a string or in an array", async () => {
  const options = {
    id: "demo",
    secretA: SECRET_A,
    secretB: SECRET_B,
    audience: "wstun",
    nowSeconds: NOW,
  };
  assert.deepEqual(
    (await verifyTunnelToken(craft(HS256, { ...good, aud: "wstun" }), options)).ok,
    true,
  );
  assert.deepEqual(
    (await verifyTunnelToken(craft(HS256, { ...good, aud: ["x", "wstun"] }), options)).ok,
    true,
  );
});

Deno.test("jwt: signTunnelToken output verifies and carries nbf 60 s before iat", async () => {
  const token = await signTunnelToken({
    id: "demo",
    secret: SECRET_B,
    ttlSeconds: 3600,
    nowSeconds: NOW,
  });
  const r = await verifyTunnelToken(token, {
    id: "demo",
    secretA: SECRET_A,
    secretB: SECRET_B,
    nowSeconds: NOW,
  });
  assert.deepEqual(r.ok && [r.claims.nbf, r.claims.iat, r.claims.exp], [NOW - 60, NOW, NOW + 3600]);
});

Deno.test("jwt: signTunnelToken mints the very bytes websocktunnel's shape gives (header, claim order)", async () => {
  const token = await signTunnelToken({
    id: "demo",
    secret: SECRET_A,
    ttlSeconds: 3600,
    nowSeconds: NOW,
  });
  assert.deepEqual(token, craft(HS256, { tid: "demo", iat: NOW, nbf: NOW - 60, exp: NOW + 3600 }));
});

/** Sends a registration request over raw TCP and returns the status code. */
async function registrationStatus(port: number, headers: Record<string, string>): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [
    "GET / HTTP/1.1",
    "Host: 127.0.0.1",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "Connection: close",
    "",
    "",
  ];
  await conn.write(new TextEncoder().encode(lines.join("\r\n")));
  const response = await new Response(conn.readable).text();
  return Number(response.split(" ")[1]);
}

const upgrade = {
  "Upgrade": "websocket",
  "Connection": "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

Deno.test("jwt over HTTP: each bad token gets 401, a 64 KiB one is refused before parsing", async () => {
  const server = startTunnelServer({ audience: undefined });
  const now = Math.floor(Date.now() / 1000);
  const live = { tid: "demo", iat: now, nbf: now - 60, exp: now + 3600 };
  const bad = [
    craft(HS256, live, "wrong"),
    craft({ alg: "HS384" }, live, SECRET_A, "sha384"),
    craft(HS256, { ...live, exp: now - 5 }),
    craft(HS256, { ...live, nbf: now + 100 }),
    craft(HS256, { ...live, tid: "other" }),
    craft(HS256, { ...live, exp: now + 32 * DAY }),
    craft(HS256, { ...live, aud: "x" }),
    `${craft(HS256, live)}.AAAA`,
    `${b64(HS256)}.${"A".repeat(20_000)}.AAAA`,
  ];
  for (const token of bad) {
    const status = await registrationStatus(server.port, {
      ...upgrade,
      "x-websocktunnel-id": "demo",
      "Authorization": `Bearer ${token}`,
    });
    assert.deepEqual(status, 401, token.slice(0, 40));
  }
  // Deno refuses a header section over 64 KiB with 400 before any handler runs.
  const huge = `${b64(HS256)}.${"A".repeat(64 * 1024)}.AAAA`;
  const status = await registrationStatus(server.port, {
    ...upgrade,
    "x-websocktunnel-id": "demo",
    "Authorization": `Bearer ${huge}`,
  });
  assert.deepEqual(status, 400);
  await server.close();
});

Deno.test("jwt over HTTP: no token is 400, secret B registers with 101", async () => {
  const server = startTunnelServer();
  assert.deepEqual(
    await registrationStatus(server.port, { ...upgrade, "x-websocktunnel-id": "demo" }),
    400,
  );
  assert.deepEqual(
    await registrationStatus(server.port, {
      ...upgrade,
      "x-websocktunnel-id": "demo",
      "Authorization": "Basic abc",
    }),
    400,
  );
  const now = Math.floor(Date.now() / 1000);
  const tokenB = craft(HS256, { tid: "demo", nbf: now - 60, exp: now + 60 }, SECRET_B);
  const ws = registrationSocket(server.origin, {
    "x-websocktunnel-id": "demo",
    "Authorization": `Bearer ${tokenB}`,
  });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.close();
  await closed;
  await server.close();
});
