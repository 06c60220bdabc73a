/**
 * wsmux frames: the byte layout websocktunnel's client and server exchange, one frame per binary
 * WebSocket message.
 *
 * ```
 * byte 0      type: 0 DATA, 1 SYN (open), 2 ACK (credit), 3 FIN (close)
 * bytes 1..4  stream id, uint32 little-endian (streams the server opens are even, the client's odd)
 * bytes 5..   payload: DATA bytes; ACK exactly 4 bytes (uint32 LE, bytes consumed); SYN/FIN empty
 * ```
 *
 * Decoding is strict where upstream is loose: a SYN or FIN with a payload and an ACK whose payload
 * is not exactly 4 bytes are refused, so a peer that sends them is told at once instead of
 * crashing or desynchronising later. Decoding never throws; it returns a value or an error code.
 *
 * @module
 */

/** Frame types as they appear in byte 0. */
export const FrameType = {
  Data: 0,
  Syn: 1,
  Ack: 2,
  Fin: 3,
} as const;
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** Bytes before the payload: type (1) + stream id (4). */
export const HEADER_BYTES = 5;

/** One decoded frame. `payload` is a view into the received message (not copied). */
export type Frame =
  | { type: typeof FrameType.Data; id: number; payload: Uint8Array }
  | { type: typeof FrameType.Syn; id: number }
  | { type: typeof FrameType.Ack; id: number; credit: number }
  | { type: typeof FrameType.Fin; id: number };

/** Why a message is not a frame. */
export type FrameError = {
  code: "short_header" | "unknown_type" | "unexpected_payload" | "bad_credit_length";
  message: string;
};

/** Encodes a DATA frame; `payload` is copied after the header. */
export function encodeData(id: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  writeHeader(out, FrameType.Data, id);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Encodes a SYN frame (asks the peer to accept stream `id`). */
export function encodeSyn(id: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES);
  writeHeader(out, FrameType.Syn, id);
  return out;
}

/** Encodes an ACK frame granting `credit` more bytes on stream `id`. */
export function encodeAck(id: number, credit: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + 4);
  writeHeader(out, FrameType.Ack, id);
  new DataView(out.buffer).setUint32(HEADER_BYTES, credit >>> 0, true);
  return out;
}

/** Encodes a FIN frame: this side will write no more on stream `id`. */
export function encodeFin(id: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES);
  writeHeader(out, FrameType.Fin, id);
  return out;
}

/**
 * Decodes one message into a frame, or says why it is not one.
 *
 * @example
 * ```ts
 * const r = decodeFrame(encodeAck(2, 4096));
 * if ("error" in r) throw new Error(r.error.message);
 * r.frame; // { type: 2, id: 2, credit: 4096 }
 * ```
 */
export function decodeFrame(bytes: Uint8Array): { frame: Frame } | { error: FrameError } {
  if (bytes.byteLength < HEADER_BYTES) {
    return fail("short_header", `frame of ${bytes.byteLength} bytes is shorter than the header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[0];
  const id = view.getUint32(1, true);
  const payloadBytes = bytes.byteLength - HEADER_BYTES;
  switch (type) {
    case FrameType.Data:
      return { frame: { type, id, payload: bytes.subarray(HEADER_BYTES) } };
    case FrameType.Syn:
    case FrameType.Fin:
      if (payloadBytes !== 0) {
        return fail("unexpected_payload", `${name(type)} on stream ${id} carries a payload`);
      }
      return { frame: { type, id } };
    case FrameType.Ack:
      if (payloadBytes !== 4) {
        return fail("bad_credit_length", `ACK on stream ${id} has ${payloadBytes} credit bytes`);
      }
      return { frame: { type, id, credit: view.getUint32(HEADER_BYTES, true) } };
    default:
      return fail("unknown_type", `unknown frame type ${type}`);
  }
}

function writeHeader(out: Uint8Array, type: FrameType, id: number): void {
  out[0] = type;
  new DataView(out.buffer).setUint32(1, id >>> 0, true);
}

function name(type: number): string {
  return type === FrameType.Syn ? "SYN" : "FIN";
}

function fail(code: FrameError["code"], message: string): { error: FrameError } {
  return { error: { code, message } };
}
