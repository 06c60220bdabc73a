/**
 * One program of the UDP benchmark (bench/udp.ts), run as its own process with exactly the UDP
 * tools' permissions (deno.json's `udp-expose` / `udp-connect` tasks), as the real tools run:
 *
 *   udp_peer.ts echo '{}'                                  the user server: echoes every datagram
 *   udp_peer.ts exposer '{"relayUrl":…,"userPort":…}'      lib/udp's UdpExposer
 *   udp_peer.ts connector '{"relayUrl":…,"serverId":…}'    lib/udp's UdpConnector
 *
 * It prints one JSON line when ready, then answers each line on stdin: `stats` with its counts
 * (the tools' counters with the OS's drops, the echo server's datagrams and drops), `stop` by
 * stopping and exiting. The echo server asks for 4 MiB kernel buffers, as a game server would,
 * so the direct path measures loopback and not a small default buffer.
 *
 * @module
 */
import { DatagramSocket, DEFAULT_SOCKET_BUFFERS, endpoint } from "../lib/udp/datagram_socket.ts";
import { OsSockets, type SocketBuffers } from "../lib/udp/os_socket.ts";
import { isLinkError } from "../lib/udp/relay_link.ts";
import { UdpConnector } from "../lib/udp/udp_connector.ts";
import { UdpExposer } from "../lib/udp/udp_exposer.ts";

/** What the parent asks and what a peer answers, one JSON object per line. */
export type PeerRequest = { type: "stats" } | { type: "stop" };

interface Peer {
  ready: Record<string, unknown>;
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

function echoServer(): Peer {
  const os = OsSockets.open();
  const socket = DatagramSocket.bind("127.0.0.1", 0, { os, buffers: DEFAULT_SOCKET_BUFFERS });
  const replyTo = new Map<string, Deno.NetAddr>();
  let received = 0, refused = 0;
  socket.onDatagram = (data, from) => {
    received++;
    const key = `${from.hostname}:${from.port}`;
    let to = replyTo.get(key);
    if (!to) replyTo.set(key, to = endpoint(from.hostname, from.port));
    // The socket reuses its buffer: the echo waiting to be sent needs its own copy.
    if (!socket.send(data.slice(), to)) refused++;
  };
  return {
    ready: { port: socket.port, buffers: socket.buffers() },
    stats: () => ({
      received,
      osDrops: socket.osDrops(),
      // Echoes that never left: the send queue was full, or the OS refused the send.
      notEchoed: refused + socket.sendErrors,
    }),
    stop: async () => {
      await socket.close();
      if (typeof os !== "string") os.close();
    },
  };
}

/** What the bench passes to a tool: the relay, and kernel buffer sizes other than the defaults. */
interface ToolPeerOptions {
  relayUrl: string;
  buffers?: SocketBuffers;
  /** Unsent bytes on the relay link above which a tool drops datagrams (default 1 MiB). */
  maxBufferedBytes?: number;
}

async function exposer(options: ToolPeerOptions & { userPort: number }): Promise<Peer> {
  const tool = new UdpExposer({
    relayUrl: options.relayUrl,
    userHost: "127.0.0.1",
    userPort: options.userPort,
    minLocalPort: 42_000,
    bindHost: "127.0.0.1",
    idleMs: 300_000,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    socketBuffers: options.buffers,
  });
  const serverId = await tool.start();
  if (isLinkError(serverId)) throw new Error(serverId.message);
  return {
    ready: { serverId },
    stats: () => ({
      counters: tool.refreshCounters(),
      ports: tool.clients().map((c) => c.localPort),
    }),
    stop: () => tool.stop(),
  };
}

async function connector(options: ToolPeerOptions & { serverId: string }): Promise<Peer> {
  const tool = new UdpConnector({
    relayUrl: options.relayUrl,
    serverId: options.serverId,
    listenPort: 0,
    listenHost: "127.0.0.1",
    idleMs: 300_000,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    socketBuffers: options.buffers,
  });
  const started = await tool.start();
  if (isLinkError(started)) throw new Error(started.message);
  return {
    ready: { port: started.listenPort },
    stats: () => ({ counters: tool.refreshCounters() }),
    stop: () => tool.stop(),
  };
}

async function main(): Promise<void> {
  const [role, json = "{}"] = Deno.args;
  const options = JSON.parse(json);
  const peer = role === "echo"
    ? echoServer()
    : role === "exposer"
    ? await exposer(options)
    : role === "connector"
    ? await connector(options)
    : null;
  if (!peer) throw new Error(`unknown role ${role}: echo, exposer or connector`);
  console.log(JSON.stringify(peer.ready));
  let rest = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const request = JSON.parse(line) as PeerRequest;
      if (request.type === "stop") {
        await peer.stop();
        Deno.exit(0);
      }
      console.log(JSON.stringify(peer.stats()));
    }
  }
  await peer.stop();
}

if (import.meta.main) await main();
