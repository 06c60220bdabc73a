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
import { acceptableKey, MIN_KEY_DISTINCT, MIN_KEY_LENGTH } from "./hub/instance_key.ts";

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
  // Pub/sub channels (docs/pubsub.md).
  AuthorizerUnavailable: "authorizer_unavailable",
  InvalidChannel: "invalid_channel",
  NotSubscribed: "not_subscribed",
  AlreadySubscribed: "already_subscribed",
  PublishTooLarge: "publish_too_large",
} as const;
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** WebSocket close codes the server uses; 4xxx are WSTun's own. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  PolicyViolation: 1008,
  TooBig: 1009,
  TryAgainLater: 1013,
  /** `/ws` only: a WSTun limit that wsify's protocol cannot report in-band; the reason is the code. */
  ChannelLimit: 4400,
  /** The pub/sub authorizer is down: reconnect later (wsify's advice for a 5xx authorizer). */
  AuthorizerUnavailable: 4503,
} as const;
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

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

/**
 * `type` values only the server sends. A client may not use them for application data, so that a
 * member can never forge a server notification (say `instance_closed`) towards the host.
 */
export const SERVER_TYPES: ReadonlySet<string> = new Set([
  "instance_created",
  "ack",
  "instance_list",
  "ok",
  "error",
  "pong",
  "client_connected",
  "client_disconnected",
  "kicked",
  "instance_closed",
  "instance_resumed",
  "host_away",
  "host_back",
  "message",
]);

/** Public description of an instance, as listed; never carries a token. */
export interface InstanceInfo {
  uuid: string;
  name: string;
  service: string;
  protected: boolean;
  members: number;
  createdAt: string;
}

/** The shape of every server frame, for clients written in TypeScript. */
export type ServerFrame =
  | {
    type: "instance_created";
    uuid: string;
    name: string;
    service: string;
    resume: string;
    ref?: Ref;
  }
  | {
    type: "ack";
    success: true;
    uuid: string;
    userId: string;
    instanceName: string;
    service: string;
    ref?: Ref;
  }
  | { type: "ack"; success: false; uuid: string; error: ErrorCode; message: string; ref?: Ref }
  | { type: "instance_list"; instances: InstanceInfo[]; ref?: Ref }
  | { type: "ok"; ref?: Ref }
  | { type: "pong"; ref?: Ref }
  | {
    type: "error";
    code: ErrorCode;
    message: string;
    ref?: Ref;
    uuid?: string;
    to?: string[];
    channel?: string;
  }
  | { type: "client_connected"; uuid: string; userId: string }
  | { type: "client_disconnected"; uuid: string; userId: string; reason: LeaveReason }
  | { type: "kicked"; uuid: string; reason: string }
  | { type: "instance_closed"; uuid: string; reason: CloseReason }
  | { type: "instance_resumed"; uuid: string; members: string[]; ref?: Ref }
  | { type: "host_away"; uuid: string }
  | { type: "host_back"; uuid: string }
  | { type: "message"; channel: string; data: unknown; from?: string };

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
