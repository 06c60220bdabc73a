import assert from "node:assert/strict";
import { ErrorTable, wireCode } from "../../../lib/errors/error_table.ts";
import { Disconnects, ErrorCode } from "../../../lib/protocol.ts";

Deno.test("error table: every protocol ErrorCode has a row, sent as itself", () => {
  for (const code of Object.values(ErrorCode)) {
    assert.ok(code in ErrorTable, `no row for ${code}`);
    assert.equal(wireCode(code), code);
  }
});

Deno.test("error table: every status is an HTTP error status; every close a Disconnects value", () => {
  const closes = new Set<unknown>(Object.values(Disconnects));
  for (const [key, row] of Object.entries(ErrorTable)) {
    assert.ok(row.status >= 400 && row.status <= 599, `${key}: status ${row.status}`);
    if (row.close) assert.ok(closes.has(row.close), `${key}: close not from Disconnects`);
  }
});

Deno.test("error table: a row that renames its wire code says so, and only internal is internal", () => {
  assert.equal(wireCode("connection_limit"), "limit_reached");
  assert.equal(wireCode("authorizer_refused"), "unauthorized");
  assert.equal(wireCode("tunnel_upgrade_required"), "upgrade_required");
  const internal = Object.entries(ErrorTable).filter(([, row]) => row.internal);
  assert.deepEqual(internal.map(([key]) => key), [ErrorCode.Internal]);
});

Deno.test("error table: the statuses routes answered before one table kept them", () => {
  const statuses: Record<string, number> = {
    connection_limit: 503,
    tunnel_upgrade_required: 404,
    authorizer_refused: 403,
    authorizer_unavailable: 403,
    upgrade_required: 426,
    unauthorized: 401,
    limit_reached: 409,
    unknown_instance: 404,
    internal: 500,
    draining: 503,
    invalid_manifest: 422,
    unreachable: 502,
    tunnel_not_connected: 504,
  };
  for (const [key, status] of Object.entries(statuses)) {
    assert.equal(ErrorTable[key as keyof typeof ErrorTable].status, status, key);
  }
});
