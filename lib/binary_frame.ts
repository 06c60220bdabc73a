/**
 * The binary routing header of protocol v1, so file chunks travel without base64.
 *
 * Layout (both directions): `u8 kind | u8 idLen | u8 peerLen | id (idLen bytes, UTF-8) |
 * peer (peerLen bytes, UTF-8) | payload`. From a client, `peer` names the target (empty: the host
 * when a member sends, every member when the host sends); from the server it names the sender.
 * Decoding copies nothing: the id and peer are decoded strings and the payload is a view.
 *
 * @module
 */

/** Binary frame kinds. */
export const BinaryKind = {
  InstanceData: 0x01,
  ChannelData: 0x02,
} as const;

/** A decoded binary frame; `payload` is a view into the received bytes. */
export interface BinaryFrame {
  kind: number;
  id: string;
  peer: string;
  payloadOffset: number;
}

const HEADER_FIXED = 3;
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes the header, or returns a message saying what is wrong with it. */
export function decodeBinaryHeader(bytes: Uint8Array): BinaryFrame | string {
  if (bytes.length < HEADER_FIXED) return "binary frame shorter than its 3-byte header";
  const kind = bytes[0], idLen = bytes[1], peerLen = bytes[2];
  if (idLen === 0) return "binary frame has an empty id";
  const end = HEADER_FIXED + idLen + peerLen;
  if (bytes.length < end) return "binary frame shorter than its header says";
  try {
    const id = decoder.decode(bytes.subarray(HEADER_FIXED, HEADER_FIXED + idLen));
    const peer = peerLen ? decoder.decode(bytes.subarray(HEADER_FIXED + idLen, end)) : "";
    return { kind, id, peer, payloadOffset: end };
  } catch {
    return "binary frame header is not valid UTF-8";
  }
}

/**
 * Encodes a header prefix; routing code keeps one per sender and copies the payload after it.
 * Throws when a field does not fit its one-byte length.
 */
export function encodeBinaryHeader(kind: number, id: string, peer: string): Uint8Array {
  const idBytes = encoder.encode(id);
  const peerBytes = encoder.encode(peer);
  if (idBytes.length < 1 || idBytes.length > 255 || peerBytes.length > 255) {
    throw new RangeError("binary header id must be 1-255 bytes and peer at most 255 bytes");
  }
  const header = new Uint8Array(HEADER_FIXED + idBytes.length + peerBytes.length);
  header[0] = kind;
  header[1] = idBytes.length;
  header[2] = peerBytes.length;
  header.set(idBytes, HEADER_FIXED);
  header.set(peerBytes, HEADER_FIXED + idBytes.length);
  return header;
}

/** Joins a header prefix and the payload of a received frame into one new frame. */
export function withHeader(
  header: Uint8Array,
  source: Uint8Array,
  payloadOffset: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(header.length + source.length - payloadOffset);
  out.set(header, 0);
  out.set(source.subarray(payloadOffset), header.length);
  return out;
}
