/**
 * HTTP/1.1 and WebSocket over a byte stream: the one WebSocket codec of the tree, the HTTP/1.1
 * heads and bodies its opening handshake (and the tunnel's viewer proxy) read and write, and the
 * dialer that opens a client WebSocket on Deno's TCP or TLS connection. Used by the tunnel
 * (lib/tunnel/: its client, its viewer proxy) and the UDP tools (lib/udp/relay_link.ts); it
 * imports nothing outside this folder, so the tools' binaries stay small. Why these are written
 * here rather than taken from a library: docs/architecture.md, "Hand-written protocol pieces".
 *
 * @example
 * ```ts
 * const dialed = await dialWebSocket(new URL("ws://127.0.0.1:8000/_udp"), {
 *   headers: [],
 *   maxMessageBytes: 1024 * 1024,
 * });
 * if (dialed.kind === "open") {
 *   dialed.ws.onMessage = (message) => console.log(message);
 *   dialed.ws.start();
 *   await dialed.ws.send("hello");
 * }
 * ```
 *
 * @module
 */
export * from "./byte_reader.ts";
export * from "./http1.ts";
export * from "./ws_codec.ts";
export * from "./ws_dial.ts";
