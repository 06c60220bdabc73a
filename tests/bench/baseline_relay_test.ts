/**
 * The benchmark's ratios are only fair if the baseline relay does what WSTun does for the frames
 * the benchmark measures. These tests send the same frames through both and compare what arrives.
 * (They test the baseline's semantics; they run no load.)
 */
import assert from "node:assert/strict";
import { createBaselineRelay } from "../../bench/baseline_relay.ts";
import { startServer } from "../_util/server.ts";
import { createRoom, type Frame, joinRoom, TestSocket } from "../_util/test_socket.ts";

interface Relay {
  wsUrl: string;
  close(): Promise<void>;
}

function startBaseline(): Relay {
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, createBaselineRelay());
  return { wsUrl: `ws://127.0.0.1:${http.addr.port}/_ws`, close: () => http.shutdown() };
}

/** Binary data frame with the pinned header: kind 0x01, idLen, peerLen, uuid, peer, payload. */
function binaryFrame(uuid: string, peer: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const id = new TextEncoder().encode(uuid);
  const to = new TextEncoder().encode(peer);
  const out = new Uint8Array(3 + id.length + to.length + payload.length);
  out.set([0x01, id.length, to.length]);
  out.set(id, 3);
  out.set(to, 3 + id.length);
  out.set(payload, 3 + id.length + to.length);
  return out;
}

/** What a host and two members see for the benchmark's frames, with the uuid masked out. */
async function observe(relay: Relay) {
  const host = await TestSocket.open(relay.wsUrl);
  const m1 = await TestSocket.open(relay.wsUrl);
  const m2 = await TestSocket.open(relay.wsUrl);
  try {
    const created = await createRoom(host);
    const uuid = created.uuid as string;
    const ack = await m1.request({ type: "join_instance", uuid, userId: "m1" });
    const connected = await host.next();
    await joinRoom(host, m2, uuid, "m2");
    const mask = (f: Frame) => ({ ...f, uuid: f.uuid === uuid ? "<uuid>" : f.uuid });

    m1.send({ type: "msg", uuid, ts: 12.5, body: "x" });
    const atHost = await host.next();
    host.send({ type: "msg", uuid, ts: 13.5, seq: 1 });
    const atMembers = [await m1.next(), await m2.next()];
    m1.sendRaw(binaryFrame(uuid, "m2", new Uint8Array([1, 2, 3])));
    const binary = await m2.nextBinary();
    const header = binary.subarray(0, 3);
    const idLen = binary[1];
    const from = new TextDecoder().decode(binary.subarray(3 + idLen, 3 + idLen + binary[2]));
    return {
      created: { type: created.type, name: created.name, service: created.service },
      ack: {
        type: ack.type,
        success: ack.success,
        userId: ack.userId,
        instanceName: ack.instanceName,
        service: ack.service,
      },
      connected: mask(connected),
      atHost: mask(atHost),
      atMembers: atMembers.map(mask),
      binary: { kind: header[0], from, payload: [...binary.subarray(3 + idLen + binary[2])] },
    };
  } finally {
    await m2.close();
    await m1.close();
    await host.close();
  }
}

/** What subscribers see of a publish on /_ws and of a wsify broadcast on /ws. */
async function observeChannels(relay: Relay) {
  const wsifyUrl = relay.wsUrl.replace(/\/_ws$/, "/ws");
  const subscriber = await TestSocket.open(relay.wsUrl);
  const publisher = await TestSocket.open(relay.wsUrl);
  const wsify = await TestSocket.open(wsifyUrl);
  try {
    const subscribed = await subscriber.request({ type: "subscribe", channel: "bench" });
    publisher.send({ type: "publish", channel: "bench", data: { ts: 1.5, seq: 0 } });
    const message = await subscriber.next();
    // wsify answers no join; a sender that joined gets its own broadcast, in command order.
    wsify.send({ command: "join", args: { channel: "bench" } });
    wsify.send({ command: "broadcast", args: { channel: "bench", content: { ts: 2.5 } } });
    const content = await wsify.next();
    const fromViaWsify = await subscriber.next();
    return {
      subscribed: { type: subscribed.type },
      message: { ...message, from: typeof message.from },
      content,
      fromViaWsify: { ...fromViaWsify, from: fromViaWsify.from ?? "none" },
    };
  } finally {
    await wsify.close();
    await publisher.close();
    await subscriber.close();
  }
}

Deno.test("baseline relay: create, join, JSON and binary data arrive as WSTun delivers them", async () => {
  const wstun = await startServer({ maxMsgsPerSec: 0 });
  const baseline = startBaseline();
  try {
    const expected = await observe(wstun);
    const actual = await observe(baseline);
    assert.deepEqual(actual, expected);
    assert.deepEqual(expected.atHost, {
      type: "msg",
      uuid: "<uuid>",
      ts: 12.5,
      body: "x",
      from: "m1",
    });
    assert.deepEqual(expected.binary, { kind: 1, from: "m1", payload: [1, 2, 3] });
  } finally {
    await baseline.close();
    await wstun.close();
  }
});

Deno.test("baseline relay: channel publishes and wsify broadcasts arrive as WSTun delivers them", async () => {
  const wstun = await startServer({ maxMsgsPerSec: 0 });
  const baseline = startBaseline();
  try {
    const expected = await observeChannels(wstun);
    const actual = await observeChannels(baseline);
    assert.deepEqual(expected.message, {
      type: "message",
      channel: "bench",
      data: { ts: 1.5, seq: 0 },
      from: "string",
    });
    assert.deepEqual(expected.content, { ts: 2.5 });
    assert.deepEqual(actual, expected);
  } finally {
    await baseline.close();
    await wstun.close();
  }
});
