/**
 * lib/cluster/envelope.ts: every body kind parses; anything else (a bug, or another version of
 * WSTun on the same bridge) is refused with the field that is wrong.
 */
import assert from "node:assert/strict";
import { parseEnvelope } from "../../../lib/cluster/envelope.ts";

const conn = "01J0000000000000000000CONN";
const uuid = "01J0000000000000000000UUID";
/** A snapshot as a worker sends it for a sibling's `/metrics`. */
const snapshot = {
  isolate: "iso",
  takenAt: 1,
  scalars: { "wstun.connections.open": [{ labels: {}, value: 3 }] },
  histograms: {
    "wstun.bridge.round_trip": [{ labels: {}, bounds: [0.1], counts: [1, 0], sum: 0.05, count: 1 }],
  },
};

Deno.test("envelopes: every kind of body parses", () => {
  const bodies = [
    {
      k: "req",
      conn,
      id: 1,
      frame: { type: "join_instance", uuid, userId: "u" },
      proof: { nonce: "n", mac: null },
    },
    { k: "req", conn, id: 2, frame: { type: "resume_instance", uuid, resume: "" }, verified: true },
    { k: "answer", conn, id: 1, text: '{"type":"ok"}' },
    { k: "answer", conn, id: 1, text: '{"type":"error"}', refused: "forbidden" },
    { k: "member", conn, uuid, role: "member" },
    { k: "data", conn, uuid, text: '{"type":"x"}', to: ["a"], ref: 3 },
    { k: "bin", conn, uuid, bytes: new Uint8Array([1]) },
    { k: "out", conns: [conn], text: "{}" },
    { k: "outbin", conns: [conn], bytes: new Uint8Array([1]) },
    { k: "undo", conn, uuid },
    { k: "detach", conn },
    { k: "hold", id: 1, conns: [conn] },
    { k: "held", id: 1 },
    { k: "beat" },
    { k: "bye" },
    { k: "chpub", message: { channel: "c", payload: { kind: "json", json: "1" } } },
    { k: "tun", m: { t: "data", s: "s1", b: new Uint8Array([1, 2]) } },
    { k: "stats_req", id: 1 },
    { k: "stats", id: 1, snapshot },
  ];
  for (const body of bodies) {
    const parsed = parseEnvelope({ from: "iso", seq: 1, body });
    assert.equal(typeof parsed, "object", `${body.k}: ${parsed}`);
  }
});

Deno.test("envelopes: unknown kinds, missing fields and secrets in clear are refused", () => {
  const refused = [
    [{ from: "iso", seq: 1, body: { k: "sniff", text: "x" } }, /^body\.k/],
    [{ from: "iso", seq: 0, body: { k: "beat" } }, /^seq/],
    [{ from: "iso", seq: 1, body: { k: "out", conns: [], text: "x" } }, /^body\.conns/],
    [
      {
        from: "iso",
        seq: 1,
        body: { k: "req", conn, id: 1, frame: { type: "resume_instance", uuid, resume: "secret" } },
      },
      /^body\.frame\.resume/,
    ],
    [{ from: "iso", seq: 1, body: { k: "tun", m: { t: "ack", s: "s", n: -1 } } }, /^body\.m\.n/],
    [
      {
        from: "iso",
        seq: 1,
        body: {
          k: "stats",
          id: 1,
          snapshot: {
            ...snapshot,
            histograms: { h: [{ labels: {}, bounds: [1, 2], counts: [1], sum: 1, count: 1 }] },
          },
        },
      },
      /^body\.snapshot\.histograms\.h\.0: one count per bound/,
    ],
    [
      {
        from: "iso",
        seq: 1,
        body: { k: "stats", id: 1, snapshot: { ...snapshot, scalars: { s: [{ value: 1 }] } } },
      },
      /^body\.snapshot\.scalars\.s\.0\.labels/,
    ],
    ["not an object", /^envelope/],
  ] as const;
  for (const [raw, field] of refused) {
    const result = parseEnvelope(raw);
    assert.equal(typeof result, "string", JSON.stringify(raw));
    assert.match(result as string, field);
  }
});
