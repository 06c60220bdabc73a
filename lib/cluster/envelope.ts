/**
 * Everything that crosses from one isolate to another, as one zod schema: an {@link Envelope}
 * (sender, per-link sequence number, body) whose body is a discriminated union on `k`. Types come
 * from the schemas; a receiver parses each envelope once ({@link parseEnvelope}) and dispatches
 * on `k`. Nothing is ever inferred from the text of a client frame.
 *
 * Validation matters beyond bugs: during a rolling restart or a deploy, isolates running two
 * versions of WSTun share one bridge, and an envelope this version does not understand is
 * refused (counted and logged) rather than half-handled.
 *
 * Bodies, by the side that sends them:
 * - the socket's isolate → the owner of an instance: `req` (a control request, secrets replaced
 *   by a proof), `data` / `bin` (application data, already free of `from`), `undo` (a join that
 *   timed out here), `detach` (the socket closed), `hold` (its isolate drains: hold these
 *   sockets' memberships for their rejoin elsewhere);
 * - the owner → the socket's isolate: `answer` (the direct answer to one `req`), `member` (the
 *   socket's membership changed: it joined, hosts, or left an instance), `out` / `outbin` (frames
 *   for one or several sockets there: a broadcast is one envelope per isolate, not per member),
 *   `held` (the memberships of a `hold` are held: everything for them before it was sent);
 * - everyone: `beat` (liveness, broadcast every heartbeat), `bye` (leaving; after a drain's
 *   `bye` the isolates with sockets in its instances answer `bye_seen`), `adopted` (an instance
 *   whose owner drained or died is now the sender's, broadcast), `chpub` (a channel
 *   publish, broadcast), `tun` (tunnel relay, lib/tunnel/bridged_registry.ts), `stats_req`
 *   (broadcast: a worker's `/metrics` asks for every isolate's instruments) and `stats` (the
 *   answer, to the asker; lib/cluster/snapshot_requests.ts).
 *
 * @module
 */
import { z } from "zod";
import { IsolateSnapshotSchema } from "../telemetry/snapshot_schema.ts";
import { ChannelMessage } from "../pubsub/channel_message.ts";
import { Role } from "../hub/cluster_port.ts";
import {
  CloseInstance,
  JoinInstance,
  KickClient,
  LeaveInstance,
  ResumeInstance,
} from "../protocol.ts";

const id = z.string().min(1).max(128);
const bytes = z.custom<Uint8Array<ArrayBuffer>>((v) => v instanceof Uint8Array, {
  message: "must be bytes",
});

/** Proof that the client presented a secret, without the secret: HMAC-SHA256(secret, nonce). */
export const SecretProof = z.object({ nonce: z.string(), mac: z.string().nullable() });
export type SecretProof = z.infer<typeof SecretProof>;

/**
 * A control request as it crosses to the owner of its instance: no server token (checked where
 * the socket is), the join token removed and the resume secret blanked (both travel as a proof).
 */
export const ForwardedRequest = z.discriminatedUnion("type", [
  JoinInstance.omit({ token: true, server_token: true, resume: true }),
  LeaveInstance,
  KickClient,
  CloseInstance,
  ResumeInstance.extend({ resume: z.literal("") }),
]);
export type ForwardedRequest = z.infer<typeof ForwardedRequest>;

/** A socket's part in an instance, as its owner's hub reports it (lib/hub/cluster_port.ts). */
export { Role };

/** One message of a tunnel stream relayed between isolates (lib/tunnel/bridged_registry.ts). */
export const TunnelRelay = z.discriminatedUnion("t", [
  z.object({ t: z.literal("open"), s: id, id: z.string() }),
  z.object({ t: z.literal("opened"), s: id }),
  z.object({
    t: z.literal("fail"),
    s: id,
    code: z.enum([
      "session_closed",
      "too_many_streams",
      "open_timeout",
      "refused",
      "stream_closed",
    ]),
    message: z.string(),
  }),
  z.object({ t: z.literal("data"), s: id, b: bytes }),
  z.object({ t: z.literal("wrote"), s: id }),
  z.object({ t: z.literal("ack"), s: id, n: z.number().int().nonnegative() }),
  z.object({ t: z.literal("fin"), s: id }),
  z.object({ t: z.literal("abort"), s: id }),
  z.object({
    t: z.literal("evict"),
    id: z.string(),
    claim: z.string(),
    code: z.number().int(),
    reason: z.string(),
  }),
]);
export type TunnelRelay = z.infer<typeof TunnelRelay>;

/** Every body that crosses isolates, discriminated on `k`. */
export const Body = z.discriminatedUnion("k", [
  z.object({
    k: z.literal("req"),
    conn: id,
    /** Numbers this request among the socket's, so its `answer` finds it. */
    id: z.number().int(),
    frame: ForwardedRequest,
    proof: SecretProof.optional(),
    /** A rejoin's proof of the member's own secret (its `resume`), over that secret's verifier. */
    rejoinProof: SecretProof.optional(),
    /**
     * A join's new member secret, as its verifier: the sender made the secret and keeps it (it
     * adds it to the `ack` for its socket), so it never crosses.
     */
    memberVerifier: z.string().optional(),
    /** The sender verified the secret itself (a keyed create's key); the owner accepts it. */
    verified: z.literal(true).optional(),
  }),
  z.object({
    k: z.literal("answer"),
    conn: id,
    id: z.number().int(),
    text: z.string(),
    /** The error code when `text` refuses the request (for the requester's span, never parsed). */
    refused: z.string().max(64).optional(),
  }),
  z.object({ k: z.literal("member"), conn: id, uuid: id, role: Role }),
  z.object({
    k: z.literal("data"),
    conn: id,
    uuid: id,
    /** The frame's text, with no `from` of its own and one `type` and `uuid`. */
    text: z.string(),
    to: z.union([z.string(), z.array(z.string())]).optional(),
    ref: z.union([z.string(), z.number()]).optional(),
  }),
  z.object({ k: z.literal("bin"), conn: id, uuid: id, bytes }),
  z.object({ k: z.literal("out"), conns: z.array(id).min(1), text: z.string() }),
  z.object({ k: z.literal("outbin"), conns: z.array(id).min(1), bytes }),
  z.object({ k: z.literal("undo"), conn: id, uuid: id }),
  z.object({ k: z.literal("detach"), conn: id }),
  /**
   * The sender drains: the owner holds these sockets' memberships (their frames kept, their
   * places kept) for their rejoin elsewhere, then answers `held` with the same `id`.
   */
  z.object({ k: z.literal("hold"), id: z.number().int(), conns: z.array(id).min(1) }),
  /** The answer to a `hold`: every frame for those sockets before it was sent before it. */
  z.object({ k: z.literal("held"), id: z.number().int() }),
  z.object({ k: z.literal("beat") }),
  /** The sender leaves; `moving`: it drained, its instances wait to be adopted (else they end). */
  z.object({ k: z.literal("bye"), moving: z.literal(true).optional() }),
  /**
   * The answer to a `bye` with `moving`, to the leaving isolate: the sender's sockets follow its
   * instances now (their frames for them are no longer posted to it), and every frame they posted
   * to it before was sent before this.
   */
  z.object({ k: z.literal("bye_seen") }),
  /** The sender adopted instance `uuid` (broadcast): sockets elsewhere in it follow it there. */
  z.object({ k: z.literal("adopted"), uuid: id }),
  z.object({ k: z.literal("chpub"), message: ChannelMessage }),
  z.object({ k: z.literal("tun"), m: TunnelRelay }),
  /** Asks for the receiver's instruments (broadcast); `id` numbers the asker's requests. */
  z.object({ k: z.literal("stats_req"), id: z.number().int() }),
  /** The answer to a `stats_req`, to the asker alone. */
  z.object({ k: z.literal("stats"), id: z.number().int(), snapshot: IsolateSnapshotSchema }),
]);
export type Body = z.infer<typeof Body>;
/** The body of one kind. */
export type BodyOf<K extends Body["k"]> = Extract<Body, { k: K }>;

/** One bridge message: sender isolate, per-link sequence number, body. */
export const Envelope = z.object({
  from: id,
  seq: z.number().int().positive(),
  body: Body,
  /** Sent to every isolate (`Bridge.broadcast`): numbered on the sender's broadcast link. */
  all: z.literal(true).optional(),
});
export type Envelope = z.infer<typeof Envelope>;

/** The envelope `raw` is, or why it is not one (a bug, or another version of WSTun). */
export function parseEnvelope(raw: unknown): Envelope | string {
  const parsed = Envelope.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return `${issue.path.join(".") || "envelope"}: ${issue.message}`;
}
