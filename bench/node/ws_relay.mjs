/**
 * Comparison relay: Node + `ws` with the same observable semantics as bench/baseline_relay.ts for
 * the frames the benchmark measures (create, join, JSON data with `from` appended, binary data with
 * the pinned header), and nothing else. It is what a user writing the relay on Node would get.
 *
 * Run: `PORT=8002 node bench/node/ws_relay.mjs`
 */
import process from "node:process";
import { randomUUID } from "node:crypto";
import { WebSocketServer } from "ws";

const HOST = "host";

function createWsRelay() {
  const instances = new Map();

  const create = (client, frame) => {
    const uuid = randomUUID();
    const name = frame.name ?? "";
    const service = frame.service ?? "";
    instances.set(uuid, { uuid, name, service, host: client.socket, members: new Map() });
    client.roles.set(uuid, HOST);
    client.socket.send(
      JSON.stringify({ type: "instance_created", uuid, name, service, resume: "", ref: frame.ref }),
    );
  };

  const join = (client, frame) => {
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
    const userId = frame.userId ?? randomUUID();
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

  const relayText = (client, frame, text) => {
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

  const relayBinary = (client, bytes) => {
    const idLen = bytes[1];
    const peerLen = bytes[2];
    const instance = instances.get(bytes.toString("utf8", 3, 3 + idLen));
    if (!instance) return;
    const from = client.roles.get(instance.uuid);
    if (from === undefined) return;
    const peer = bytes.toString("utf8", 3 + idLen, 3 + idLen + peerLen);
    const fromBytes = Buffer.from(from);
    const payload = bytes.subarray(3 + idLen + peerLen);
    const out = Buffer.allocUnsafe(3 + idLen + fromBytes.length + payload.length);
    out[0] = bytes[0];
    out[1] = idLen;
    out[2] = fromBytes.length;
    bytes.copy(out, 3, 3, 3 + idLen);
    fromBytes.copy(out, 3 + idLen);
    payload.copy(out, 3 + idLen + fromBytes.length);
    if (peer) instance.members.get(peer)?.send(out);
    else if (from === HOST) { for (const member of instance.members.values()) member.send(out); }
    else instance.host.send(out);
  };

  const leave = (client) => {
    for (const [uuid, userId] of client.roles) {
      const instance = instances.get(uuid);
      if (!instance) continue;
      if (userId === HOST) instances.delete(uuid);
      else instance.members.delete(userId);
    }
    client.roles.clear();
  };

  return (socket) => {
    const client = { socket, roles: new Map() };
    socket.on("message", (data, isBinary) => {
      if (isBinary) return relayBinary(client, data);
      const text = data.toString();
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return; // like the baseline: the benchmark never sends bad JSON
      }
      if (frame.type === "create_instance") create(client, frame);
      else if (frame.type === "join_instance") join(client, frame);
      else relayText(client, frame, text);
    });
    socket.on("close", () => leave(client));
    socket.on("error", () => leave(client));
  };
}

const port = Number(process.env.PORT ?? "8002");
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: false,
});
server.on("connection", createWsRelay());
