/**
 * `deno task udp-connect <local listen port> <relay URL> <Server ID>`: lets a game client reach a
 * UDP server exposed with `udp-expose`. Listens on 127.0.0.1:<port>; point the game there. Each
 * local source (address and port) is tunnelled as its own client. See docs/udp.md.
 *
 * @module
 */
import { z } from "zod";
import { isLinkError } from "../lib/udp/relay_link.ts";
import {
  clock,
  COMMON_OPTIONS,
  COMMON_USAGE,
  CommonSchema,
  ipAddress,
  parseCommandLine,
  port,
  tokenFrom,
  validate,
} from "../lib/udp/tool_options.ts";
import { describeBuffers, runTool, runUntilInterrupted } from "./udp_tool_runner.ts";
import { type ConnectorEvent, UdpConnector } from "../lib/udp/udp_connector.ts";

const USAGE = `usage: deno task udp-connect <local listen port> <relay URL> <Server ID> [options]

  --token <token>      the relay's server token (default: $WSTUN_TOKEN)
  --listen <address>   local IP address to listen on (default 127.0.0.1)
  --idle <duration>    forget a local source after this much silence (default 300s)
${COMMON_USAGE}`;

const Schema = CommonSchema.extend({
  positionals: z.tuple([port(0), z.string().min(1), z.string().min(1)], {
    error: "needs <local listen port> <relay URL> <Server ID>",
  }),
  listen: ipAddress,
});

function describe(event: ConnectorEvent): string {
  switch (event.type) {
    case "ready":
      return `connected as ${event.userId}; listening on port ${event.listenPort}`;
    case "buffers":
      return describeBuffers("listening socket", event.asked, event.granted);
    case "source_new":
      return `local source ${event.source} → flow ${event.flow}`;
    case "source_idle":
      return `local source ${event.source} idle; forgotten`;
    case "relay_lost":
      return `lost the server (${event.reason}); retrying in ${event.retryInMs} ms`;
    case "host_away":
      return "the exposer is reconnecting; datagrams are dropped (and counted) meanwhile";
    case "host_back":
      return "the exposer is back";
    default:
      return event satisfies never;
  }
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...COMMON_OPTIONS,
    listen: { type: "string", default: "127.0.0.1" },
  });
  if (values.help) return console.log(USAGE), 0;
  const o = validate(Schema, { ...values, positionals });
  const [listenPort, relayUrl, serverId] = o.positionals;
  const connector = new UdpConnector({
    relayUrl,
    token: tokenFrom(o.token),
    serverId,
    listenPort,
    listenHost: o.listen,
    idleMs: o.idle,
    maxBufferedBytes: o["max-buffered"],
    maxDatagramBytes: o["max-datagram"],
    socketBuffers: { receive: o["recv-buffer"], send: o["send-buffer"] },
    onEvent: (event) => console.log(`${clock()} ${describe(event)}`),
  });
  const started = await connector.start();
  if (isLinkError(started)) {
    console.error(`udp-connect: ${started.message}`);
    return 1;
  }
  await runUntilInterrupted(connector, o.report);
  return 0;
}

if (import.meta.main) await runTool("udp-connect", USAGE, main);
