/**
 * WebSocket upgrades sent by hand, to see how a refused upgrade is answered (a browser WebSocket
 * only reports "error"): the headers of an upgrade for `fetch`, and a raw request over TCP that
 * returns the status line's code and the body.
 *
 * @module
 */

/** Headers of a WebSocket upgrade request, for checking how a refused upgrade is answered. */
export const UPGRADE_HEADERS = {
  upgrade: "websocket",
  connection: "upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
} as const;

/**
 * Sends a WebSocket upgrade by hand and returns the status line's code and the body, to see what a
 * refused upgrade is answered (a browser WebSocket only reports "error").
 */
export async function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      "",
      "",
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n")));
    let text = "";
    const buf = new Uint8Array(4096);
    const decoder = new TextDecoder();
    // Read until the headers and the announced body are in (or the server closes).
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const length = Number(/content-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.startsWith("HTTP/1.1 101") || text.length >= end + 4 + length) break;
    }
    const status = Number(text.split(" ")[1]);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}
