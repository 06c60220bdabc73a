/**
 * Wire protocol v1: one zod schema per control frame, the error codes and the close codes.
 *
 * This module is the single source of truth for what a frame on `/_ws` may look like; both the
 * validation at the edge and the TypeScript types used inside the hub come from these schemas.
 * docs/protocol.md describes the same contract in prose; a name that is not here does not exist.
 *
 * Application data (any `type` that is not a control or server type) is deliberately *not* parsed
 * by zod: the hot path checks only `uuid` and `to` and forwards the original text.
 *
 * @module
 */
import { z } from "zod";
import { acceptableKey, MIN_KEY_DISTINCT, MIN_KEY_LENGTH } from "./hub/instance_secrets.ts";

/** Error codes carried by `{"type":"error","code"}` frames and failed `ack`s. */
export const ErrorCode = {
  BadJson: "bad_json",
  InvalidMessage: "invalid_message",
  UnknownInstance: "unknown_instance",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  UserIdTaken: "user_id_taken",
  UnknownService: "unknown_service",
  NotMember: "not_member",
  HostAway: "host_away",
  RateLimited: "rate_limited",
  LimitReached: "limit_reached",
  AlreadyMember: "already_member",
  Internal: "internal",
  // Between isolates (docs/architecture.md, "Bridge and directory").
  /** Another isolate did not answer a join, kick or other request in time. */
  BridgeTimeout: "bridge_timeout",
  /** Frames from another isolate were lost on the bridge; `lost` says how many bridge messages. */
  BridgeGap: "bridge_gap",
  /** The instance directory or the bridge cannot be reached. */
  BridgeUnavailable: "bridge_unavailable",
  /**
   * To a member rejoining a moved instance: `lost` frames sent while it was away were more than
   * the server holds (`WSTUN_REJOIN_HOLD_BYTES`) and did not reach it.
   */
  MissedFrames: "missed_frames",
  /**
   * A frame for an instance this socket was told moves (`instance_moving`), before the socket
   * came back into it: not taken; send it again once back (lib/hub/moving.ts).
   */
  Moving: "moving",
  // Pub/sub channels (docs/pubsub.md).
  AuthorizerUnavailable: "authorizer_unavailable",
  InvalidChannel: "invalid_channel",
  NotSubscribed: "not_subscribed",
  AlreadySubscribed: "already_subscribed",
  PublishTooLarge: "publish_too_large",
} as const;
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** What a client should do after the server closed its socket. */
export const Reconnect = {
  /** Reconnect at once (another isolate or the restarted server takes it): a drain. */
  Now: "now",
  /** Reconnect, backing off: the cause may still be there (load, a limit, an outage). */
  Backoff: "backoff",
  /** Do not reconnect: nothing will be different next time. */
  Never: "never",
} as const;
export type Reconnect = typeof Reconnect[keyof typeof Reconnect];

/** A close of a socket by the server: code, reason (at most 123 bytes), reconnect advice. */
export interface Disconnect {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: Reconnect;
}

/**
 * Every way the server closes a client's socket, in one table (docs/protocol.md, "Close codes").
 * Code 4xxx are WSTun's own. Closes are made from these values only, never from bare numbers.
 */
export const Disconnects = {
  /** The server is shutting down for good (no drain): come back later. */
  ShuttingDown: { code: 1001, reason: "server shutting down", reconnect: Reconnect.Backoff },
  /** The other end of a relayed socket (a tunnel viewer's) went away. */
  PeerGone: { code: 1001, reason: "the other end went away", reconnect: Reconnect.Backoff },
  /** Sustained flooding past `WSTUN_MAX_MSGS_PER_SEC`. */
  Flooding: {
    code: 1008,
    reason: "flooding: message rate limit exceeded",
    reconnect: Reconnect.Backoff,
  },
  /** A frame above `WSTUN_MAX_FRAME_BYTES` (the reason names the limit). */
  TooBig: { code: 1009, reason: "frame larger than the limit", reconnect: Reconnect.Backoff },
  /** Something in the server failed; the client may try again. */
  Internal: { code: 1011, reason: "internal error", reconnect: Reconnect.Backoff },
  /** This server is draining (a restart, a deploy): reconnect now, the room goes on elsewhere. */
  Restarting: {
    code: 1012,
    reason: "server restarting: reconnect now",
    reconnect: Reconnect.Now,
  },
  /** The socket did not read what was sent to it, past `WSTUN_MAX_BUFFERED_BYTES`. */
  SlowConsumer: {
    code: 1013,
    reason: "consumer too slow: outgoing backlog over limit",
    reconnect: Reconnect.Backoff,
  },
  /** `/ws` only: a WSTun limit that wsify's protocol cannot report in-band; the reason is the code. */
  ChannelLimit: { code: 4400, reason: "limit_reached", reconnect: Reconnect.Never },
  /** The pub/sub authorizer is down (wsify's advice for a 5xx authorizer). */
  AuthorizerUnavailable: {
    code: 4503,
    reason: "authorizer_unavailable",
    reconnect: Reconnect.Backoff,
  },
} as const satisfies Record<string, Disconnect>;

/** `disconnect` with a more precise reason (a limit's value, an error code). */
export function withReason(disconnect: Disconnect, reason: string): Disconnect {
  return { ...disconnect, reason };
}

/** Reasons a member stops being a member, as reported to the host in `client_disconnected`. */
export const LeaveReason = {
  Left: "left",
  Kicked: "kicked",
  Disconnected: "disconnected",
} as const;
export type LeaveReason = typeof LeaveReason[keyof typeof LeaveReason];

/** Reasons an instance ends, as reported to members in `instance_closed`. */
export const CloseReason = {
  Closed: "closed",
  HostLeft: "host_left",
  Uninstalled: "uninstalled",
  /** Sent to a host's previous socket when the same host resumed the instance on a new one. */
  ResumedElsewhere: "resumed_elsewhere",
} as const;
export type CloseReason = typeof CloseReason[keyof typeof CloseReason];

/** How soon (ms) to try again after `host_away`: the host may be on its way back. */
export const RETRY_AFTER_MS = 500;

/** The userId the host's frames carry in `from`; no member may take it. */
export const HOST_USER_ID = "host";

const ref = z.union([z.string().max(128), z.number()]).optional();
const uuid = z.string().min(1).max(64);
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const userId = z.string().min(1).max(64).refine((s) => !CONTROL_CHARS.test(s), {
  message: "must not contain control characters",
});

export const CreateInstance = z.object({
  type: z.literal("create_instance"),
  service: z.string().min(1).max(64),
  name: z.string().min(1).max(100),
  token: z.string().max(256).optional(),
  server_token: z.string().max(1024).optional(),
  /**
   * Stable identity: the uuid is derived from service and key, and presenting the key again takes
   * the instance over like `resume_instance` (answered with `instance_resumed`) or, once it has
   * ended, recreates it under the same uuid.
   */
  key: z.string().max(256).refine(acceptableKey, {
    message: `must be a random secret of at least ${MIN_KEY_LENGTH} characters with ` +
      `${MIN_KEY_DISTINCT} different ones (128 bits: 16 random bytes in base64url; ` +
      "udp-expose --new-id makes one)",
  }).optional(),
  ref,
});
export const JoinInstance = z.object({
  type: z.literal("join_instance"),
  uuid,
  userId: userId.optional(),
  token: z.string().max(256).optional(),
  server_token: z.string().max(1024).optional(),
  /**
   * The client was a member before its connection dropped or the instance moved: it gets what
   * was held for it while it was away (docs/protocol.md, "Draining and moving rooms").
   */
  rejoin: z.boolean().optional(),
  /**
   * With `rejoin`: the member's secret from its last successful `ack` (`resume`). It takes the
   * member's place back at once even while the server still counts the old connection (it died
   * without a close: a crashed process, a half-open socket); the old one is `kicked`.
   */
  resume: z.string().min(1).max(128).optional(),
  ref,
});
export const LeaveInstance = z.object({ type: z.literal("leave_instance"), uuid, ref });
export const ListInstances = z.object({
  type: z.literal("list_instances"),
  service: z.string().max(64).optional(),
  ref,
});
export const KickClient = z.object({
  type: z.literal("kick_client"),
  uuid,
  userId,
  reason: z.string().max(256).optional(),
  ref,
});
export const CloseInstance = z.object({ type: z.literal("close_instance"), uuid, ref });
export const ResumeInstance = z.object({
  type: z.literal("resume_instance"),
  uuid,
  resume: z.string().min(1).max(256),
  ref,
});
export const Ping = z.object({ type: z.literal("ping"), ref });

/** Every control request a client may send, discriminated on `type`. */
export const ControlRequest = z.discriminatedUnion("type", [
  CreateInstance,
  JoinInstance,
  LeaveInstance,
  ListInstances,
  KickClient,
  CloseInstance,
  ResumeInstance,
  Ping,
]);
export type ControlRequest = z.infer<typeof ControlRequest>;
/** The control requests that name an instance (and so may run on another isolate). */
export const InstanceRequest = z.discriminatedUnion("type", [
  JoinInstance,
  LeaveInstance,
  KickClient,
  CloseInstance,
  ResumeInstance,
]);
export type InstanceRequest = z.infer<typeof InstanceRequest>;
export type CreateInstance = z.infer<typeof CreateInstance>;
export type JoinInstance = z.infer<typeof JoinInstance>;
export type LeaveInstance = z.infer<typeof LeaveInstance>;
export type ListInstances = z.infer<typeof ListInstances>;
export type KickClient = z.infer<typeof KickClient>;
export type CloseInstance = z.infer<typeof CloseInstance>;
export type ResumeInstance = z.infer<typeof ResumeInstance>;
export type Ref = string | number | undefined;

/** `type` values a client sends as control requests. */
export const CONTROL_TYPES: ReadonlySet<string> = new Set(
  ControlRequest.options.map((o) => o.shape.type.value),
);

/** Public description of an instance, as listed; never carries a token. */
export const InstanceInfo = z.object({
  uuid: z.string(),
  name: z.string(),
  service: z.string(),
  protected: z.boolean(),
  members: z.number(),
  createdAt: z.string(),
});
export type InstanceInfo = z.infer<typeof InstanceInfo>;

const errorCode = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);
const serverRef = z.union([z.string(), z.number()]).optional();

/**
 * What an `error` frame may say besides its code and message: which instance, which `to` names,
 * which channel failed, and how many bridge messages a `bridge_gap` lost.
 */
export const ErrorDetails = z.object({
  uuid: z.string().optional(),
  to: z.array(z.string()).optional(),
  channel: z.string().optional(),
  lost: z.number().optional(),
});
export type ErrorDetails = z.infer<typeof ErrorDetails>;

/**
 * Every frame the server sends, discriminated on `type` (docs/protocol.md, "Server → client"):
 * the one schema from which the types of everything the hub, the cluster and the connections
 * send are inferred. The server never parses its own frames with it; clients may.
 */
export const ServerFrame = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("instance_created"),
    uuid: z.string(),
    name: z.string(),
    service: z.string(),
    resume: z.string(),
    ref: serverRef,
  }),
  z.object({
    type: z.literal("ack"),
    success: z.boolean(),
    uuid: z.string(),
    userId: z.string().optional(),
    instanceName: z.string().optional(),
    service: z.string().optional(),
    /** On success: the member's secret to present with `rejoin` next time (a new one each join). */
    resume: z.string().optional(),
    error: errorCode.optional(),
    message: z.string().optional(),
    /** With `host_away`: when trying again makes sense (the host may be on its way back). */
    retryAfterMs: z.number().optional(),
    ref: serverRef,
  }),
  z.object({ type: z.literal("instance_list"), instances: z.array(InstanceInfo), ref: serverRef }),
  z.object({ type: z.literal("ok"), ref: serverRef }),
  /** `received`: frames the server has taken from this socket so far (text and binary). */
  z.object({ type: z.literal("pong"), received: z.number().optional(), ref: serverRef }),
  ErrorDetails.extend({
    retryAfterMs: z.number().optional(),
    type: z.literal("error"),
    code: errorCode,
    message: z.string(),
    ref: serverRef,
  }),
  z.object({ type: z.literal("client_connected"), uuid: z.string(), userId: z.string() }),
  z.object({
    type: z.literal("client_disconnected"),
    uuid: z.string(),
    userId: z.string(),
    reason: z.enum(Object.values(LeaveReason) as [LeaveReason, ...LeaveReason[]]),
  }),
  z.object({ type: z.literal("kicked"), uuid: z.string(), reason: z.string() }),
  z.object({
    type: z.literal("instance_closed"),
    uuid: z.string(),
    reason: z.enum(Object.values(CloseReason) as [CloseReason, ...CloseReason[]]),
  }),
  z.object({
    type: z.literal("instance_resumed"),
    uuid: z.string(),
    members: z.array(z.string()),
    ref: serverRef,
  }),
  z.object({ type: z.literal("host_away"), uuid: z.string() }),
  z.object({ type: z.literal("host_back"), uuid: z.string() }),
  /** The instance's isolate drained or died: rejoin (members) or resume (the host) to follow it. */
  z.object({
    type: z.literal("instance_moving"),
    uuid: z.string(),
    /**
     * Frames the server took from this socket when it was told (its frames for this instance
     * after them are refused `moving`: send them again once back); absent when not known.
     */
    received: z.number().optional(),
  }),
  /**
   * This server is draining: the socket closes next (1012). `received` frames of this socket
   * were taken and routed; later ones were not, and should be sent again after reconnecting.
   */
  z.object({ type: z.literal("draining"), received: z.number() }),
  z.object({
    type: z.literal("message"),
    channel: z.string(),
    data: z.unknown(),
    from: z.string().optional(),
  }),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
/** The server frame of one `type`. */
export type ServerFrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/**
 * `type` values only the server sends. A client may not use them for application data, so that a
 * member can never forge a server notification (say `instance_closed`) towards the host.
 */
export const SERVER_TYPES: ReadonlySet<string> = new Set(
  ServerFrame.options.map((o) => o.shape.type.value),
);

/** Turns a zod failure into the one-line message of an `invalid_message` error, naming the field. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid message";
  const path = issue.path.length ? issue.path.join(".") : "frame";
  return `${path}: ${issue.message}`;
}

// Pub/sub channels (docs/pubsub.md). `channel` is only typed here: its length and characters are
// checked against the configured limits by lib/pubsub/limits.ts, which answers `invalid_channel`.
export const Subscribe = z.object({ type: z.literal("subscribe"), channel: z.string(), ref });
export const Unsubscribe = z.object({ type: z.literal("unsubscribe"), channel: z.string(), ref });
export const Publish = z.object({
  type: z.literal("publish"),
  channel: z.string(),
  data: z.unknown(),
  ref,
});
/** The channel requests of `/_ws`, discriminated on `type`. */
export const ChannelRequest = z.discriminatedUnion("type", [Subscribe, Unsubscribe, Publish]);
export type ChannelRequest = z.infer<typeof ChannelRequest>;
/** `type` values of channel requests; like CONTROL_TYPES, never application data. */
export const CHANNEL_TYPES: ReadonlySet<string> = new Set(
  ChannelRequest.options.map((o) => o.shape.type.value),
);
