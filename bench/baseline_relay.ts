/**
 * The baseline for `deno task bench`: the least a relay on `Deno.serve` + `Deno.upgradeWebSocket`
 * must do to give the measured frames WSTun's observable semantics, and nothing else — no schema
 * validation, no limits, no auth, no bridge, no error frames beyond a failed join.
 *
 * What it does, per the protocol v1 frames the benchmark sends:
 * - `create_instance` → `instance_created` {uuid, name, service, resume, ref};
 * - `join_instance` → `ack` {success, uuid, userId, …, ref}, and `client_connected` to the host;
 * - any other JSON type is data: parse once, look up the instance, append `from` to the original
 *   text, deliver to the host (from a member) or to every member (from the host), or to `to`;
 * - a binary frame (kind 0x01 | idLen | peerLen | uuid | peer | payload) goes to the named member
 *   (or host / every member when peer is empty) with peer rewritten to the sender;
 * - pub/sub on `/_ws`: `subscribe` (answered `ok` when it has a `ref`), `publish` → a `message`
 *   frame {channel, data, from} to every subscriber; on `/ws`, wsify's `join` and `broadcast`
 *   commands, subscribers getting the content's JSON alone.
 *
 * Its throughput is Deno's ceiling for this work; bench/run.ts reports WSTun as a ratio of it.
 *
 * Run: `PORT=8001 deno run --allow-net --allow-env bench/baseline_relay.ts`
 *
 * @module
 */

const HOST = "host";

interface Instance {
  uuid: string;
  name: string;
  service: string;
  host: WebSocket;
  members: Map<string, WebSocket>;
}

/** One connection: the instances it belongs to and its userId in each, and its channels. */
interface Client {
  socket: WebSocket;
  roles: Map<string, string>;
  channels: Set<string>;
  /** Publisher id carried in `message` frames, made on first publish. */
  id?: string;
  /** Speaks wsify's commands (`/ws`) instead of protocol v1. */
  wsify: boolean;
}

interface Frame {
  type?: string;
  uuid?: string;
  userId?: string;
  name?: string;
  service?: string;
  ref?: string | number;
  to?: string | string[];
  channel?: string;
  data?: unknown;
  command?: string;
  args?: { channel?: string; content?: unknown };
}

/** Creates the relay's state and returns the request handler for Deno.serve. */
export function createBaselineRelay(): (req: Request) => Response {
  const instances = new Map<string, Instance>();
  const channels = new Map<string, Set<Client>>();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  const create = (client: Client, frame: Frame) => {
    const uuid = crypto.randomUUID();
    const name = frame.name ?? "";
    const service = frame.service ?? "";
    instances.set(uuid, { uuid, name, service, host: client.socket, members: new Map() });
    client.roles.set(uuid, HOST);
    client.socket.send(JSON.stringify({
      type: "instance_created",
      uuid,
      name,
      service,
      resume: "",
      ref: frame.ref,
    }));
  };

  const join = (client: Client, frame: Frame) => {
    const uuid = frame.uuid ?? "";
    const instance = instances.get(uuid);
    if (!instance) {
      client.socket.send(JSON.stringify({
        type: "ack",
        success: false,
        uuid,
        error: "unknown_instance",
        message: "no such instance",
        ref: frame.ref,
      }));
      return;
    }
    const userId = frame.userId ?? crypto.randomUUID();
    instance.members.set(userId, client.socket);
    client.roles.set(uuid, userId);
    client.socket.send(JSON.stringify({
      type: "ack",
      success: true,
      uuid,
      userId,
      instanceName: instance.name,
      service: instance.service,
      ref: frame.ref,
    }));
    instance.host.send(JSON.stringify({ type: "client_connected", uuid, userId }));
  };

  const relayText = (client: Client, frame: Frame, text: string) => {
    const instance = instances.get(frame.uuid ?? "");
    if (!instance) return;
    const from = client.roles.get(instance.uuid);
    if (from === undefined) return;
    const out = text.slice(0, text.lastIndexOf("}")) + `,"from":${JSON.stringify(from)}}`;
    if (frame.to !== undefined) {
      for (const id of typeof frame.to === "string" ? [frame.to] : frame.to) {
        instance.members.get(id)?.send(out);
      }
    } else if (from === HOST) {
      for (const member of instance.members.values()) member.send(out);
    } else {
      instance.host.send(out);
    }
  };

  const relayBinary = (client: Client, data: ArrayBuffer) => {
    const bytes = new Uint8Array(data);
    const idLen = bytes[1];
    const peerLen = bytes[2];
    const instance = instances.get(decoder.decode(bytes.subarray(3, 3 + idLen)));
    if (!instance) return;
    const from = client.roles.get(instance.uuid);
    if (from === undefined) return;
    const peer = decoder.decode(bytes.subarray(3 + idLen, 3 + idLen + peerLen));
    const fromBytes = encoder.encode(from);
    const payload = bytes.subarray(3 + idLen + peerLen);
    const out = new Uint8Array(3 + idLen + fromBytes.length + payload.length);
    out[0] = bytes[0];
    out[1] = idLen;
    out[2] = fromBytes.length;
    out.set(bytes.subarray(3, 3 + idLen), 3);
    out.set(fromBytes, 3 + idLen);
    out.set(payload, 3 + idLen + fromBytes.length);
    if (peer) instance.members.get(peer)?.send(out);
    else if (from === HOST) { for (const member of instance.members.values()) member.send(out); }
    else instance.host.send(out);
  };

  const subscribe = (client: Client, channel: string) => {
    let subscribers = channels.get(channel);
    if (!subscribers) channels.set(channel, subscribers = new Set());
    subscribers.add(client);
    client.channels.add(channel);
  };

  /** Sends `data` to a channel's subscribers, serialised once per kind of subscriber. */
  const deliver = (channel: string, data: unknown, from: string | undefined) => {
    let native: string | undefined;
    let wsify: string | undefined;
    for (const subscriber of channels.get(channel) ?? []) {
      if (subscriber.wsify) subscriber.socket.send(wsify ??= JSON.stringify(data ?? null));
      else {
        subscriber.socket.send(
          native ??= JSON.stringify({ type: "message", channel, data: data ?? null, from }),
        );
      }
    }
  };

  const nativeChannels = (client: Client, frame: Frame) => {
    const channel = frame.channel ?? "";
    if (frame.type === "subscribe") subscribe(client, channel);
    else {
      client.id ??= crypto.randomUUID();
      deliver(channel, frame.data, client.id);
    }
    if (frame.ref !== undefined) client.socket.send(JSON.stringify({ type: "ok", ref: frame.ref }));
  };

  const wsifyCommand = (client: Client, frame: Frame) => {
    const channel = frame.args?.channel?.trim() ?? "";
    if (frame.command === "join") subscribe(client, channel);
    else if (frame.command === "leave") {
      channels.get(channel)?.delete(client);
      client.channels.delete(channel);
    } else if (frame.command === "broadcast") {
      deliver(channel, frame.args?.content, undefined);
    }
  };

  const leave = (client: Client) => {
    for (const channel of client.channels) channels.get(channel)?.delete(client);
    client.channels.clear();
    for (const [uuid, userId] of client.roles) {
      const instance = instances.get(uuid);
      if (!instance) continue;
      if (userId === HOST) instances.delete(uuid);
      else instance.members.delete(userId);
    }
    client.roles.clear();
  };

  const onMessage = (client: Client, data: string | ArrayBuffer) => {
    if (typeof data !== "string") return relayBinary(client, data);
    let frame: Frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // the baseline answers nothing to bad JSON: the benchmark never sends it
    }
    if (client.wsify) wsifyCommand(client, frame);
    else if (frame.type === "create_instance") create(client, frame);
    else if (frame.type === "join_instance") join(client, frame);
    else if (frame.type === "subscribe" || frame.type === "publish") nativeChannels(client, frame);
    else relayText(client, frame, data);
  };

  return (req: Request): Response => {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("baseline relay: WebSocket only\n", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    const wsify = new URL(req.url).pathname === "/ws";
    const client: Client = { socket, roles: new Map(), channels: new Set(), wsify };
    socket.onmessage = (e) => onMessage(client, e.data);
    socket.onclose = () => leave(client);
    socket.onerror = () => leave(client);
    return response;
  };
}

if (import.meta.main) {
  // Exit through Deno.exit on SIGTERM so `deno task bench:profile` gets its --cpu-prof profile.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  const port = Number(Deno.env.get("PORT") ?? "8001");
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, createBaselineRelay());
}
