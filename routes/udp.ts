/**
 * `GET /_udp`: the UDP tunnel relay. The same upgrade, token guard, hub and protocol as `/_ws`;
 * only the socket's delivery rules differ ({@link UdpConnection}: datagrams to a backed-up socket
 * are dropped and counted, and the rate limit is the UDP one). The relay opens no UDP socket, so
 * it runs wherever the hub runs, Deno Deploy included. See docs/udp.md.
 *
 * @module
 */
import { UdpConnection } from "../lib/udp/mod.ts";
import { upgradeToHub, type WsDeps } from "./ws.ts";

export function upgradeToUdp(request: Request, deps: WsDeps): Response {
  return upgradeToHub(
    request,
    deps,
    (socket, channels) =>
      new UdpConnection(socket, deps.hub, deps.config, deps.stats, channels, deps.now),
  );
}
