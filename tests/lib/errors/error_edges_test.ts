import assert from "node:assert/strict";
import {
  asWstunError,
  errorBody,
  errorClose,
  errorFrame,
  errorResponse,
  failedAck,
} from "../../../lib/errors/error_edges.ts";
import { WstunError } from "../../../lib/errors/wstun_error.ts";
import { Disconnects, ErrorCode, RETRY_AFTER_MS } from "../../../lib/protocol.ts";

Deno.test("error edges: a refusal becomes an error frame with its ref and details", () => {
  const err = new WstunError(ErrorCode.NotMember, "not members of r: zoe", {
    uuid: "r",
    to: ["zoe"],
  });
  assert.deepEqual(errorFrame(err, 7), {
    type: "error",
    code: "not_member",
    message: "not members of r: zoe",
    ref: 7,
    uuid: "r",
    to: ["zoe"],
  });
});

Deno.test("error edges: a refused join becomes a failed ack carrying retryAfterMs", () => {
  const err = new WstunError(ErrorCode.HostAway, "the host is away; try again", {
    uuid: "r",
    retryAfterMs: RETRY_AFTER_MS,
  });
  assert.deepEqual(failedAck(err, "r", "j1"), {
    type: "ack",
    success: false,
    uuid: "r",
    error: "host_away",
    message: "the host is away; try again",
    retryAfterMs: RETRY_AFTER_MS,
    ref: "j1",
  });
});

Deno.test("error edges: an HTTP-only code reaching a socket is sent as internal", () => {
  assert.equal(errorFrame(new WstunError("not_found", "nothing")).code, ErrorCode.Internal);
});

Deno.test("error edges: the HTTP response carries the row's status and the wire code", async () => {
  const limit = errorResponse(new WstunError("connection_limit", "too many connections"));
  assert.equal(limit.status, 503);
  assert.deepEqual(await limit.json(), {
    error: "limit_reached",
    message: "too many connections",
  });
  const mismatch = new WstunError("hash_mismatch", "bad hash", { url: "https://m/x", path: "a" });
  assert.deepEqual(errorBody(mismatch), {
    error: "hash_mismatch",
    message: "bad hash",
    url: "https://m/x",
    path: "a",
  });
  const draining = errorResponse(new WstunError("draining", "restarting"), { "retry-after": "1" });
  assert.equal(draining.status, 503);
  assert.equal(draining.headers.get("retry-after"), "1");
  await draining.body?.cancel();
});

Deno.test("error edges: closes come from the table, 4400 with the code by default", () => {
  const down = new WstunError(ErrorCode.AuthorizerUnavailable, "down");
  assert.deepEqual(errorClose(down), Disconnects.AuthorizerUnavailable);
  const internal = new WstunError(ErrorCode.Internal, "internal server error");
  assert.deepEqual(errorClose(internal), Disconnects.Internal);
  const rate = errorClose(new WstunError(ErrorCode.RateLimited, "slow down"));
  assert.equal(rate.code, Disconnects.ChannelLimit.code);
  assert.equal(rate.reason, "rate_limited");
});

Deno.test("error edges: an unknown exception is internal, reported without becoming its message", () => {
  const faults: unknown[] = [];
  const report = (f: unknown) => {
    faults.push(f);
  };
  const fault = new TypeError("x is undefined");
  const err = asWstunError(fault, report);
  assert.equal(err.code, ErrorCode.Internal);
  assert.equal(err.message, "internal server error");
  assert.deepEqual(errorFrame(err), {
    type: "error",
    code: "internal",
    message: "internal server error",
    ref: undefined,
  });
  assert.deepEqual(faults, [fault]);
  const known = new WstunError(ErrorCode.Forbidden, "only the host");
  assert.equal(asWstunError(known, report), known);
  assert.equal(faults.length, 1);
});
