/**
 * How an envelope travels on a bridge: packed into a flat array. Structured clone (MessagePort,
 * BroadcastChannel) serialises every object key of every message; an array of values skips that,
 * and the frequent bodies — application data and frames for sockets — are laid out field by field,
 * which halves the cost of a bridge hop (docs/performance.md). Other bodies travel as their object.
 *
 * `[from, seq, all, code, …fields]`: `all` is 1 for a broadcast; `code` names the layout:
 * 1 `data` [conn, uuid, text, to | null, ref | null], 2 `out` [conns, text], 3 `bin` [conn, uuid,
 * bytes], 4 `outbin` [conns, bytes], 0 any other body [body]. {@link unpack} turns it back into the
 * envelope's object form, which the cluster then checks with its schema (lib/cluster/envelope.ts).
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";

/** A packed envelope. */
export type Packed = unknown[];

const Code = { other: 0, data: 1, out: 2, bin: 3, outbin: 4 } as const;

/** The flat form of `envelope`. */
export function pack(envelope: Envelope): Packed {
  const { from, seq, body } = envelope;
  const all = envelope.all ? 1 : 0;
  switch (body.k) {
    case "data":
      return [
        from,
        seq,
        all,
        Code.data,
        body.conn,
        body.uuid,
        body.text,
        body.to ?? null,
        body.ref ?? null,
      ];
    case "out":
      return [from, seq, all, Code.out, body.conns, body.text];
    case "bin":
      return [from, seq, all, Code.bin, body.conn, body.uuid, body.bytes];
    case "outbin":
      return [from, seq, all, Code.outbin, body.conns, body.bytes];
    default:
      return [from, seq, all, Code.other, body];
  }
}

/** The object form of a packed envelope (unchecked: what arrived may be anything). */
export function unpack(packed: unknown): unknown {
  if (!Array.isArray(packed) || packed.length < 5) return packed;
  const body = unpackBody(packed);
  return packed[2] === 1
    ? { from: packed[0], seq: packed[1], body, all: true }
    : { from: packed[0], seq: packed[1], body };
}

function unpackBody(packed: unknown[]): unknown {
  switch (packed[3]) {
    case Code.data: // one shape for every data body: `to` and `ref` undefined when absent
      return {
        k: "data",
        conn: packed[4],
        uuid: packed[5],
        text: packed[6],
        to: packed[7] ?? undefined,
        ref: packed[8] ?? undefined,
      };
    case Code.out:
      return { k: "out", conns: packed[4], text: packed[5] };
    case Code.bin:
      return { k: "bin", conn: packed[4], uuid: packed[5], bytes: packed[6] };
    case Code.outbin:
      return { k: "outbin", conns: packed[4], bytes: packed[5] };
    default:
      return packed[4];
  }
}
