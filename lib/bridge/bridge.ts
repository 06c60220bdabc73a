/**
 * The bridge: how one isolate hands a message to another isolate of the same hub. A transport
 * only: what the messages mean is the cluster's (lib/cluster/envelope.ts), which validates every
 * one it receives.
 *
 * Layout: every isolate listens on one inbox named for it, and a sender posts to the inbox of the
 * isolate that holds the recipient. So a message is delivered to exactly one isolate (traffic grows
 * with the work, not with the number of isolates), and an isolate holds one channel however many
 * instances it serves. docs/architecture.md ("Bridge and directory") compares this with a channel
 * per instance.
 *
 * Guarantees of an implementation: messages from one isolate to another arrive in the order
 * posted, or not at all, unless it says it `redelivers` (then a message it could not deliver may
 * come later, after others: the Redis bridge's outbox after an outage). Loss and order are the
 * cluster's business one layer up (lib/cluster/link.ts), never here. `post` never throws and
 * never awaits.
 *
 * @module
 */

/**
 * One message as a transport carries it: the cluster's envelope packed into a flat array
 * (lib/cluster/wire.ts), opaque here. Its values are strings, numbers, arrays, plain objects and
 * `Uint8Array`s.
 */
export type BridgeMessage = readonly unknown[];

/** Carries messages between isolates. */
export interface Bridge {
  /**
   * True when every receiver runs this same program in this same process (the workers of one
   * server): messages then cannot come from another version of WSTun, and the cluster trusts
   * their shape instead of checking it.
   */
  readonly trusted?: boolean;
  /**
   * True when a message the transport could not deliver at once may still arrive later, out of
   * order: the receiver then waits a little for the ones before it (lib/cluster/link.ts).
   */
  readonly redelivers?: boolean;
  /** Starts delivering messages addressed to `isolate` to `receive`, as received (unchecked). */
  listen(isolate: string, receive: (message: unknown) => void): void;
  /** Posts one message to the inbox of `isolate`; never throws. */
  post(isolate: string, message: BridgeMessage): void;
  /**
   * Posts one message to every other isolate listening (pub/sub publishes, liveness); never
   * throws. A transport that echoes it to the sender may: receivers ignore their own.
   */
  broadcast(message: BridgeMessage): void;
  /** Drops whatever the bridge keeps for an isolate that is gone. */
  forget?(isolate: string): void;
  /** Stops listening and releases channels or connections. */
  close(): Promise<void>;
}
