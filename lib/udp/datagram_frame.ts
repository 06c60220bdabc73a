/**
 * The UDP tunnel's framing: one datagram = one binary hub frame (docs/udp.md, "Wire format").
 *
 * A tunnel frame is an ordinary protocol-v1 binary frame of kind 0x01 (instance data), so the relay
 * routes it like any other and never looks inside. Its payload starts with a 5-byte UDP header:
 *
 *     u8 op (0x01 = datagram) | u32 flow (big-endian) | datagram bytes (0..65,507)
 *
 * `flow` names one local source on the connector's side (one game client's address and port), so
 * one connector socket carries several sources and the exposer gives each (member, flow) pair its
 * own UDP socket. Boundaries are preserved because a frame is never split or merged. Encoding
 * copies the datagram once, behind a header prefix computed once per destination.
 *
 * @module
 */
import { BinaryKind, decodeBinaryHeader, encodeBinaryHeader } from "../binary_frame.ts";

/** The largest UDP payload over IPv4 (65,535 − 8 UDP header − 20 IP header). */
export const MAX_DATAGRAM_BYTES = 65_507;

/** Ops of the UDP header; unknown ops are counted and ignored by the tools. */
export const UdpOp = {
  Datagram: 0x01,
} as const;

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

/** A decoded tunnel frame; `datagram` is a view into the received bytes. */
export interface TunnelFrame {
  /** Instance uuid (the Server ID's public part). */
  uuid: string;
  /** Sender as the relay stamped it: "host" or the member's userId. */
  from: string;
  op: number;
  flow: number;
  datagram: Uint8Array;
}

/** Decodes a frame received from the relay, or says what is wrong with it. */
export function decodeTunnelFrame(bytes: Uint8Array): TunnelFrame | string {
  const frame = decodeBinaryHeader(bytes);
  if (typeof frame === "string") return frame;
  if (frame.kind !== BinaryKind.InstanceData) return `binary kind ${frame.kind} is not UDP data`;
  const at = frame.payloadOffset;
  if (bytes.length < at + UDP_HEADER_BYTES) return "frame shorter than the 5-byte UDP header";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    uuid: frame.id,
    from: frame.peer,
    op: bytes[at],
    flow: view.getUint32(at + 1),
    datagram: bytes.subarray(at + UDP_HEADER_BYTES),
  };
}
