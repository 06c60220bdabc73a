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
  const [from, seq, all, code] = packed;
  const envelope = (
    body: unknown,
  ) => (all === 1 ? { from, seq, body, all: true } : { from, seq, body });
  switch (code) {
    case Code.data: {
      const [, , , , conn, uuid, text, to, ref] = packed;
      const body: Record<string, unknown> = { k: "data", conn, uuid, text };
      if (to !== null) body.to = to;
      if (ref !== null) body.ref = ref;
      return envelope(body);
    }
    case Code.out:
      return envelope({ k: "out", conns: packed[4], text: packed[5] });
    case Code.bin:
      return envelope({ k: "bin", conn: packed[4], uuid: packed[5], bytes: packed[6] });
    case Code.outbin:
      return envelope({ k: "outbin", conns: packed[4], bytes: packed[5] });
    default:
      return envelope(packed[4]);
  }
}
