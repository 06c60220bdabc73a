/**
 * A `/_udp` socket on the relay: a hub {@link Connection} built with UDP's rules. Its backlog
 * policy ({@link udpBacklog}) drops a datagram for a socket whose unsent backlog is over
 * `udpMaxBufferedBytes` and counts it (`udpDatagramsDropped` in /_api/stats) instead of queueing
 * it: a slow tunnel end loses datagrams, as UDP would, and the relay's memory per socket stays
 * bounded (by the bound plus 64 KiB plus one frame). Text frames (control, notifications) keep
 * the hub's rules, so the tunnel's signalling is never lost. Its rate limit is
 * `udpMaxMsgsPerSec`: datagram rates run far above chat rates.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { type ChannelAccess, Connection, type DropWhenBackedUp } from "../connection.ts";
import type { Hub } from "../hub/hub.ts";
import type { Stats } from "../stats.ts";
import { decodeBinaryHeader } from "../binary_frame.ts";
import { datagramCount } from "./datagram_frame.ts";

type UdpLimits = Pick<
  Config,
  "maxFrameBytes" | "maxBufferedBytes" | "udpMaxBufferedBytes" | "udpMaxMsgsPerSec"
>;

/** A {@link Connection} with the UDP route's rate limit and {@link udpBacklog}; nothing else. */
export class UdpConnection extends Connection {
  constructor(
    socket: WebSocket,
    hub: Hub,
    config: UdpLimits,
    stats: Stats,
    channels?: ChannelAccess,
    now?: () => number,
  ) {
    const limits = { ...config, maxMsgsPerSec: config.udpMaxMsgsPerSec };
    super(socket, hub, limits, stats, channels, { backlog: udpBacklog(config, stats), now });
  }
}

/**
 * UDP's backlog policy: binary frames (datagrams) are dropped past `udpMaxBufferedBytes` (0 =
 * never), counted per datagram (a batch frame carries several); every socket still closes past
 * `maxBufferedBytes`, as a `/_ws` one does.
 */
export function udpBacklog(config: UdpLimits, stats: Stats): DropWhenBackedUp {
  return {
    kind: "drop",
    dropAboveBytes: config.udpMaxBufferedBytes,
    closeAboveBytes: config.maxBufferedBytes,
    sent: () => {
      stats.udpFrames++;
    },
    dropped: (frame) => {
      const header = decodeBinaryHeader(frame);
      const payload = typeof header === "string" ? frame : frame.subarray(header.payloadOffset);
      stats.udpDatagramsDropped += datagramCount(payload);
    },
  };
}
