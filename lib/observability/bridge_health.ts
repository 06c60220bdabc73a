/**
 * What the admin page's live view shows about each other isolate: whether the directory says it
 * is alive and whether the bridge has heard from it lately. The cluster layer supplies it (a
 * {@link BridgeHealthSource} passed to `createServer`); without a bridge there is none and the
 * page says "bridge off".
 *
 * @module
 */

/** One isolate as this one sees it. */
export interface IsolateBridgeHealth {
  isolate: string;
  /** This row is the isolate answering. */
  self: boolean;
  /** Its liveness key is in the directory. */
  aliveInDirectory: boolean;
  /** Milliseconds since a bridge message from it arrived; null when none ever did. */
  lastHeardMsAgo: number | null;
  /** Alive in the directory but not heard on the bridge for too long: messages are not arriving. */
  silent: boolean;
}

/** Reads the current bridge health, one row per known isolate. */
export type BridgeHealthSource = () => IsolateBridgeHealth[] | Promise<IsolateBridgeHealth[]>;
