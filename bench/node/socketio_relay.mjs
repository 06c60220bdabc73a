/**
 * Comparison relay: Socket.IO rooms, the way a user would build WSTun's relay on Socket.IO. Each
 * protocol v1 frame travels as the payload of event "m"; an instance is a room the members join;
 * data from a member goes to the host's socket, data from the host to the room (or to `to`), with
 * `from` added. WebSocket transport only (no long-polling), no compression, as the benchmark's
 * client speaks Engine.IO v4 over a plain WebSocket.
 *
 * Binary frames are not supported: Socket.IO sends binary as separate attachments, which is a
 * different protocol from WSTun's pinned header, so bench/run.ts skips `binary` here.
 *
 * Run: `PORT=8003 node bench/node/socketio_relay.mjs`
 */
import process from "node:process";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { Server } from "socket.io";

const HOST = "host";

function attachRelay(io) {
  const instances = new Map();

  io.on("connection", (socket) => {
    const roles = new Map();

    const create = (frame) => {
      const uuid = randomUUID();
      const name = frame.name ?? "";
      const service = frame.service ?? "";
      instances.set(uuid, { uuid, name, service, host: socket, members: new Map() });
      roles.set(uuid, HOST);
      socket.emit("m", {
        type: "instance_created",
        uuid,
        name,
        service,
        resume: "",
        ref: frame.ref,
      });
    };

    const join = (frame) => {
      const uuid = frame.uuid ?? "";
      const instance = instances.get(uuid);
      if (!instance) {
        socket.emit("m", {
          type: "ack",
          success: false,
          uuid,
          error: "unknown_instance",
          message: "no such instance",
          ref: frame.ref,
        });
        return;
      }
      const userId = frame.userId ?? randomUUID();
      instance.members.set(userId, socket);
      roles.set(uuid, userId);
      socket.join(uuid);
      socket.emit("m", {
        type: "ack",
        success: true,
        uuid,
        userId,
        instanceName: instance.name,
        service: instance.service,
        ref: frame.ref,
      });
      instance.host.emit("m", { type: "client_connected", uuid, userId });
    };

    const relay = (frame) => {
      const instance = instances.get(frame.uuid ?? "");
      if (!instance) return;
      const from = roles.get(instance.uuid);
      if (from === undefined) return;
      frame.from = from;
      if (frame.to !== undefined) {
        for (const id of typeof frame.to === "string" ? [frame.to] : frame.to) {
          instance.members.get(id)?.emit("m", frame);
        }
      } else if (from === HOST) {
        io.to(instance.uuid).emit("m", frame);
      } else {
        instance.host.emit("m", frame);
      }
    };

    socket.on("m", (frame) => {
      if (frame?.type === "create_instance") create(frame);
      else if (frame?.type === "join_instance") join(frame);
      else if (frame) relay(frame);
    });
    socket.on("disconnect", () => {
      for (const [uuid, userId] of roles) {
        const instance = instances.get(uuid);
        if (!instance) continue;
        if (userId === HOST) instances.delete(uuid);
        else instance.members.delete(userId);
      }
      roles.clear();
    });
  });
}

const port = Number(process.env.PORT ?? "8003");
const http = createServer((_req, res) => {
  res.writeHead(426).end("socket.io relay: WebSocket only\n");
});
const io = new Server(http, {
  serveClient: false,
  transports: ["websocket"],
  perMessageDeflate: false,
});
attachRelay(io);
http.listen(port, "127.0.0.1");
