/**
 * The UDP tunnel's framing (docs/udp.md, "Wire format").
 *
 * A tunnel frame is an ordinary protocol-v1 binary frame of kind 0x01 (instance data), so the relay
 * routes it like any other and never looks inside. Its payload starts with an op:
 *
 *     0x01 datagram:  u8 op | u32 flow (big-endian) | datagram bytes (0..65,507)
 *     0x02 batch:     u8 op | then, repeated: u32 flow | u16 length | datagram bytes
 *
 * `flow` names one local source on the connector's side (one game client's address and port), so
 * one connector socket carries several sources and the exposer gives each (member, flow) pair its
 * own UDP socket. A batch carries the datagrams for one peer gathered in one turn of the event
 * loop (lib/udp/frame_batcher.ts), in order; each keeps its boundaries, none is ever split.
 * Encoding copies a datagram once, behind a header prefix computed once per destination.
 *
 * @module
 */
import { BinaryKind, decodeBinaryHeader, encodeBinaryHeader } from "../binary_frame.ts";

/** The largest UDP payload over IPv4 (65,535 − 8 UDP header − 20 IP header). */
export const MAX_DATAGRAM_BYTES = 65_507;

/** Ops of the UDP header; unknown ops are counted and ignored by the tools. */
export const UdpOp = {
  Datagram: 0x01,
  Batch: 0x02,
} as const;

/** Bytes before each datagram of a batch: u32 flow, u16 length. */
export const BATCH_ENTRY_BYTES = 6;

/** Bytes of the UDP header inside the hub frame's payload. */
export const UDP_HEADER_BYTES = 5;

/** A precomputed hub header for one destination (`peer` empty = the host). */
export interface FramePrefix {
  readonly bytes: Uint8Array;
}

/** Builds the prefix of frames sent on instance `uuid` to `peer` ("" = the host). */
export function framePrefix(uuid: string, peer: string): FramePrefix {
  return { bytes: encodeBinaryHeader(BinaryKind.InstanceData, uuid, peer) };
}

/**
 * Encodes one datagram as one hub frame. The caller has checked the size against
 * {@link MAX_DATAGRAM_BYTES}: oversize datagrams are counted, never framed.
 */
export function encodeDatagram(
  prefix: FramePrefix,
  flow: number,
  datagram: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const head = prefix.bytes.length;
  const out = new Uint8Array(head + UDP_HEADER_BYTES + datagram.length);
  out.set(prefix.bytes, 0);
  out[head] = UdpOp.Datagram;
  new DataView(out.buffer).setUint32(head + 1, flow >>> 0);
  out.set(datagram, head + UDP_HEADER_BYTES);
  return out;
}

/** One datagram of a frame and the flow it belongs to. */
export interface FlowDatagram {
  flow: number;
  datagram: Uint8Array;
}

/** Encodes datagrams for one peer as one batch frame (sizes checked by the caller). */
export function encodeBatch(prefix: FramePrefix, entries: FlowDatagram[]): Uint8Array<ArrayBuffer> {
  const head = prefix.bytes.length;
  let size = head + 1;
  for (const e of entries) size += BATCH_ENTRY_BYTES + e.datagram.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(prefix.bytes, 0);
  out[head] = UdpOp.Batch;
  let at = head + 1;
  for (const e of entries) {
    view.setUint32(at, e.flow >>> 0);
    view.setUint16(at + 4, e.datagram.length);
    out.set(e.datagram, at + BATCH_ENTRY_BYTES);
    at += BATCH_ENTRY_BYTES + e.datagram.length;
  }
  return out;
}

/** A decoded tunnel frame; each datagram is a view into the received bytes. */
export interface TunnelFrame {
  /** Instance uuid (the Server ID's public part). */
  uuid: string;
  /** Sender as the relay stamped it: "host" or the member's userId. */
  from: string;
  datagrams: FlowDatagram[];
}

/** Decodes a frame received from the relay, or says what is wrong with it. */
export function decodeTunnelFrame(bytes: Uint8Array): TunnelFrame | string {
  const frame = decodeBinaryHeader(bytes);
  if (typeof frame === "string") return frame;
  if (frame.kind !== BinaryKind.InstanceData) return `binary kind ${frame.kind} is not UDP data`;
  const at = frame.payloadOffset;
  if (bytes.length < at + UDP_HEADER_BYTES) return "frame shorter than the 5-byte UDP header";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = bytes[at];
  if (op === UdpOp.Datagram) {
    const datagram = bytes.subarray(at + UDP_HEADER_BYTES);
    return {
      uuid: frame.id,
      from: frame.peer,
      datagrams: [{ flow: view.getUint32(at + 1), datagram }],
    };
  }
  if (op !== UdpOp.Batch) return `UDP op ${op} is not known`;
  const datagrams = batchEntries(bytes, view, at + 1);
  if (typeof datagrams === "string") return datagrams;
  return { uuid: frame.id, from: frame.peer, datagrams };
}

function batchEntries(bytes: Uint8Array, view: DataView, from: number): FlowDatagram[] | string {
  const entries: FlowDatagram[] = [];
  for (let at = from; at < bytes.length;) {
    if (at + BATCH_ENTRY_BYTES > bytes.length) return "batch entry cut short";
    const end = at + BATCH_ENTRY_BYTES + view.getUint16(at + 4);
    if (end > bytes.length) return "batch datagram longer than its frame";
    entries.push({
      flow: view.getUint32(at),
      datagram: bytes.subarray(at + BATCH_ENTRY_BYTES, end),
    });
    at = end;
  }
  return entries;
}

/**
 * How many datagrams a tunnel frame carries, read from its payload (the bytes after the hub
 * header): the relay counts each one it drops. Anything else counts as one.
 */
export function datagramCount(payload: Uint8Array): number {
  if (payload[0] !== UdpOp.Batch) return 1;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let count = 0;
  for (let at = 1; at + BATCH_ENTRY_BYTES <= payload.length; count++) {
    at += BATCH_ENTRY_BYTES + view.getUint16(at + 4);
  }
  return Math.max(count, 1);
}
