/**
 * Which address a client socket binds to when the user did not say: the loopback of the user
 * server's family when it is local (nothing else can reach the socket), the wildcard of that
 * family otherwise (so the kernel picks the route).
 *
 * @module
 */
import { isIPv6 } from "node:net";

/** The default bind address for sockets that talk to `userHost`. */
export function defaultBindHost(userHost: string): string {
  const v6 = isIPv6(userHost);
  const loopback = v6 ? userHost === "::1" : userHost.startsWith("127.");
  if (loopback) return v6 ? "::1" : "127.0.0.1";
  return v6 ? "::" : "0.0.0.0";
}
