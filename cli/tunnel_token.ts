/**
 * `deno task tunnel-token --id X --ttl 1h [--audience A]`
 *
 * Prints a tunnel registration token (HS256 JWT, signed by jose) with WSTUN_TUNNEL_SECRET_A, for admins
 * handing a tunnel id to a client. The lifetime is capped so that `exp − nbf` stays within the
 * server's 31-day limit (nbf is set 60 s in the past for clock skew). The secret is never printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { MAX_LIFETIME_SECONDS, NBF_SKEW_SECONDS, signTunnelToken } from "../lib/tunnel/jwt.ts";
import { TUNNEL_ID } from "../lib/tunnel/service.ts";
import { TunnelEnv } from "../lib/tunnel/tunnel_config.ts";
import { parseEnv } from "../lib/env_schema.ts";

const USAGE = "usage: deno task tunnel-token --id <tunnel id> --ttl <N[s|m|h|d]> [--audience AUD]";
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function fail(message: string): never {
  console.error(`tunnel-token: ${message}`);
  Deno.exit(2);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    id: { type: "string" },
    ttl: { type: "string", default: "1h" },
    audience: { type: "string" },
  },
});
if (!values.id) fail(`--id is required\n${USAGE}`);
if (!TUNNEL_ID.test(values.id)) fail(`--id must match ${TUNNEL_ID.source}`);
const ttl = /^(\d+)([smhd]?)$/.exec(values.ttl);
if (!ttl) fail(`--ttl must look like 90s, 30m, 1h or 7d, got ${values.ttl}`);
const ttlSeconds = Number(ttl[1]) * UNIT_SECONDS[ttl[2] || "s"];
const maxTtl = MAX_LIFETIME_SECONDS - NBF_SKEW_SECONDS;
if (ttlSeconds < 1 || ttlSeconds > maxTtl) {
  fail(`--ttl must be between 1s and ${maxTtl}s (31 days minus the 60 s nbf skew)`);
}
// The server's own schema reads the two variables, so a secret it would refuse is refused here.
let env: Pick<TunnelEnv, "WSTUN_TUNNEL_SECRET_A" | "WSTUN_TUNNEL_AUDIENCE">;
try {
  env = parseEnv(TunnelEnv.pick({ WSTUN_TUNNEL_SECRET_A: true, WSTUN_TUNNEL_AUDIENCE: true }), {
    WSTUN_TUNNEL_SECRET_A: Deno.env.get("WSTUN_TUNNEL_SECRET_A"),
    WSTUN_TUNNEL_AUDIENCE: Deno.env.get("WSTUN_TUNNEL_AUDIENCE"),
  });
} catch (err) {
  fail((err as Error).message);
}
const secret = env.WSTUN_TUNNEL_SECRET_A;
if (!secret) fail("WSTUN_TUNNEL_SECRET_A is not set (the token is signed with it)");
const audience = values.audience ?? env.WSTUN_TUNNEL_AUDIENCE;

console.log(
  await signTunnelToken({
    id: values.id,
    secret,
    ttlSeconds,
    nowSeconds: Date.now() / 1000,
    audience,
  }),
);
