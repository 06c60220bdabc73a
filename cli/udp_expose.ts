/**
 * `deno task udp-expose <min local port> <relay URL> <user server port>`: exposes a UDP server
 * (a game or voice server) through a WSTun relay. Prints the Server ID to give to players, then
 * one line per arrival, departure and relay change, and the counters every `--report`.
 * See docs/udp.md.
 *
 * @module
 */
import { z } from "zod";
import { isLinkError } from "../lib/udp/relay_link.ts";
import { acceptableKey, MIN_KEY_LENGTH } from "../lib/udp/server_id.ts";
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
import { type ExposerEvent, UdpExposer } from "../lib/udp/udp_exposer.ts";
import { randomSecret } from "../lib/secret.ts";
import { defaultBindHost } from "../lib/udp/socket_type.ts";

const USAGE = `usage: deno task udp-expose <min local port> <relay URL> <user server port> [options]

  --id <key>           stable Server ID: the same random key (${MIN_KEY_LENGTH}+ characters, keep it secret)
                       always gives the same ID; without it the ID lasts while the relay keeps
                       the instance (reconnects within WSTUN_HOST_GRACE_MS)
  --new-id             print a fresh random key for --id and exit
  --token <token>      the relay's server token (default: $WSTUN_TOKEN)
  --host <address>     the user server's IP address (default 127.0.0.1; ::1 etc. work)
  --bind <address>     address the per-client sockets bind to (default: the loopback when
                       the user server is local, else every interface)
  --idle <duration>    close a client's socket after this much silence (default 300s)
${COMMON_USAGE}`;

const Schema = CommonSchema.extend({
  positionals: z.tuple([port(1), z.string().min(1), port(1)], {
    error: "needs <min local port> <relay URL> <user server port>",
  }),
  id: z.string().refine(acceptableKey, {
    message: `must be a random key of at least ${MIN_KEY_LENGTH} characters (--new-id makes one)`,
  }).optional(),
  host: ipAddress,
  bind: ipAddress.optional(),
  "new-id": z.boolean().optional(),
});

function describe(event: ExposerEvent): string {
  switch (event.type) {
    case "ready":
      return event.changed
        ? `Server ID CHANGED (the relay forgot the old one): ${event.serverId}`
        : `${event.resumed ? "back on the relay" : "registered"}; Server ID: ${event.serverId}`;
    case "buffers":
      return describeBuffers("client sockets", event.asked, event.granted);
    case "arrival":
      return `client ${event.client} arrived: local port ${event.localPort}`;
    case "departure":
      return `client ${event.client} left (${event.reason}): port ${event.localPort}, ` +
        `${event.received} datagrams in, ${event.sent} out`;
    case "connector_joined":
      return `connector ${event.userId} joined`;
    case "connector_left":
      return `connector ${event.userId} left (${event.reason})`;
    case "relay_lost":
      return `relay connection lost (${event.reason}); retrying in ${event.retryInMs} ms`;
    case "taken_over":
      return "another exposer took this Server ID over; stopping";
    case "closed_by_relay":
      return `the relay closed this tunnel (${event.reason}); stopping`;
    case "client_error":
      return `client ${event.client}: ${event.message}`;
    default:
      return event satisfies never;
  }
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...COMMON_OPTIONS,
    id: { type: "string" },
    "new-id": { type: "boolean" },
    host: { type: "string", default: "127.0.0.1" },
    bind: { type: "string" },
  });
  if (values.help) return console.log(USAGE), 0;
  if (values["new-id"]) return console.log(randomSecret(24)), 0;
  const o = validate(Schema, { ...values, positionals });
  const [minLocalPort, relayUrl, userPort] = o.positionals;
  const exposer = new UdpExposer({
    relayUrl,
    token: tokenFrom(o.token),
    userHost: o.host,
    userPort,
    minLocalPort,
    bindHost: o.bind ?? defaultBindHost(o.host),
    idleMs: o.idle,
    key: o.id,
    maxBufferedBytes: o["max-buffered"],
    maxDatagramBytes: o["max-datagram"],
    socketBuffers: { receive: o["recv-buffer"], send: o["send-buffer"] },
    onEvent: (event) => {
      console.log(`${clock()} ${describe(event)}`);
      if (event.type === "taken_over" || event.type === "closed_by_relay") done.resolve();
    },
  });
  const done = Promise.withResolvers<void>();
  const started = await exposer.start();
  if (isLinkError(started)) {
    console.error(`udp-expose: ${started.message}`);
    return 1;
  }
  console.log(
    `\n  Server ID: ${started}\n\n  Give it to your players: deno task udp-connect <port> ` +
      `${relayUrl} ${started}\n`,
  );
  await runUntilInterrupted(exposer, o.report, done.promise);
  return 0;
}

if (import.meta.main) await runTool("udp-expose", USAGE, main);
