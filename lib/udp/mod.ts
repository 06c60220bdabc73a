/**
 * UDP datagrams over the hub's binary path (docs/udp.md): the relay side (`/_udp` connections
 * with UDP's backlog policy), the wire format and server ids. The tools' own modules
 * (udp_exposer.ts, udp_connector.ts, relay_link.ts and their helpers) are entered from cli/
 * directly: they open sockets of their own (Deno's datagram API; a WebSocket to the relay through
 * lib/ws/), which the relay side never needs.
 *
 * @example
 * ```ts
 * const id = formatServerId({ uuid, secret: joinToken }); // what udp-expose prints
 * parseServerId(id); // { uuid, secret }, or a message saying what is wrong
 * ```
 *
 * @module
 */
export * from "./datagram_frame.ts";
export * from "./server_id.ts";
export * from "./udp_connection.ts";
