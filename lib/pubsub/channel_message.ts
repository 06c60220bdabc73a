/**
 * A message published to a channel, and the frames it becomes for each kind of subscriber.
 *
 * A publish is serialised once: JSON content is kept as its JSON text, binary content as bytes.
 * {@linkcode ChannelDelivery} renders the frames lazily and caches them, so a broadcast to N
 * subscribers of one protocol builds each frame once, not N times.
 *
 * Binary frames use the pinned `/_ws` header with kind 0x02:
 * `u8 kind | u8 idLen | u8 peerLen | channel (UTF-8) | peer (UTF-8) | payload`; client → server the
 * peer field must be empty, server → client it carries `from` (empty when the publisher has none).
 *
 * @module
 */
import { z } from "zod";
import { BinaryKind, decodeBinaryHeader, encodeBinaryHeader, withHeader } from "../binary_frame.ts";

/** Binary frame kind of a channel publish (client → server) or delivery (server → client). */
export const CHANNEL_BINARY_KIND = BinaryKind.ChannelData;

/** What was published: JSON text, or raw bytes. */
export const ChannelPayload = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("json"), json: z.string() }),
  z.object({
    kind: z.literal("binary"),
    bytes: z.custom<Uint8Array<ArrayBuffer>>((v) => v instanceof Uint8Array),
  }),
]);
export type ChannelPayload = z.infer<typeof ChannelPayload>;

/**
 * A message as the registry and the bridge carry it; plain data, safe to structured-clone. It
 * crosses isolates inside a cluster envelope (lib/cluster/envelope.ts), validated on receipt.
 */
export const ChannelMessage = z.object({
  channel: z.string(),
  /** Who published, when known (a native connection's id); absent for `/ws` and HTTP publishes. */
  from: z.string().optional(),
  payload: ChannelPayload,
});
export type ChannelMessage = z.infer<typeof ChannelMessage>;

/** One message on its way to this isolate's subscribers, with its frames built at most once. */
export class ChannelDelivery {
  readonly message: ChannelMessage;
  #nativeText?: string;
  #nativeBinary?: Uint8Array<ArrayBuffer>;

  constructor(message: ChannelMessage) {
    this.message = message;
  }

  /**
   * The frame for a `/ws` (wsify) subscriber: the content's JSON alone, as wsify sends it, or the
   * raw bytes for a binary publish.
   */
  wsifyFrame(): string | Uint8Array<ArrayBuffer> {
    const p = this.message.payload;
    return p.kind === "json" ? p.json : p.bytes;
  }

  /** The frame for a native `/_ws` subscriber: a `message` text frame, or a kind-0x02 binary frame. */
  nativeFrame(): string | Uint8Array<ArrayBuffer> {
    const p = this.message.payload;
    if (p.kind === "binary") {
      return this.#nativeBinary ??= encodeChannelBinary(
        this.message.channel,
        this.message.from,
        p.bytes,
      );
    }
    if (this.#nativeText === undefined) {
      const from = this.message.from === undefined
        ? ""
        : `,"from":${JSON.stringify(this.message.from)}`;
      // The JSON text is spliced in as is: it was produced by JSON.stringify at publish time.
      this.#nativeText = `{"type":"message","channel":${
        JSON.stringify(this.message.channel)
      },"data":${p.json}${from}}`;
    }
    return this.#nativeText;
  }
}

/** Builds a kind-0x02 binary frame. Throws a RangeError when a name exceeds 255 bytes. */
export function encodeChannelBinary(
  channel: string,
  peer: string | undefined,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const header = encodeBinaryHeader(BinaryKind.ChannelData, channel, peer ?? "");
  return withHeader(header, payload, 0);
}

/** A decoded kind-0x02 frame, or why it could not be decoded. */
export type DecodedChannelBinary =
  | { ok: true; channel: string; peer: string; payload: Uint8Array<ArrayBuffer> }
  | { ok: false; message: string };

/** Parses a kind-0x02 binary frame (the caller has checked the kind byte). */
export function decodeChannelBinary(frame: Uint8Array<ArrayBuffer>): DecodedChannelBinary {
  const header = decodeBinaryHeader(frame);
  if (typeof header === "string") return { ok: false, message: header };
  return {
    ok: true,
    channel: header.id,
    peer: header.peer,
    payload: frame.subarray(header.payloadOffset),
  };
}
