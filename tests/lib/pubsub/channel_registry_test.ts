/** The channel registry on its own: subscription rules, delivery isolation, the bridge seam. */
import assert from "node:assert/strict";
import {
  type ChannelBridge,
  type ChannelDelivery,
  type ChannelMessage,
  ChannelRegistry,
  type ChannelSubscriber,
  decodeChannelBinary,
  encodeChannelBinary,
} from "../../../lib/pubsub/mod.ts";

/** A subscriber that keeps what it receives, in its native form. */
class Inbox implements ChannelSubscriber {
  frames: Array<string | Uint8Array> = [];
  deliver(delivery: ChannelDelivery): void {
    this.frames.push(delivery.nativeFrame());
  }
}

/** A subscriber whose socket is gone: every send throws. */
class BrokenSocket implements ChannelSubscriber {
  deliver(): void {
    throw new Error("socket closed");
  }
}

const json = (channel: string, value: unknown, from?: string): ChannelMessage => ({
  channel,
  from,
  payload: { kind: "json", json: JSON.stringify(value) },
});

Deno.test("registry: a second subscribe is refused with already_subscribed and delivery stays single", () => {
  const registry = new ChannelRegistry();
  const inbox = new Inbox();
  assert.equal(registry.subscribe(inbox, "a"), undefined);
  assert.equal(registry.subscribe(inbox, "a")?.code, "already_subscribed");
  registry.publish(json("a", 1));
  assert.deepEqual(inbox.frames, ['{"type":"message","channel":"a","data":1}']);
  assert.deepEqual(registry.list(), [{ channel: "a", subscribers: 1 }]);
});

Deno.test("registry: unsubscribing a channel never joined is a no-op answered not_subscribed", () => {
  const registry = new ChannelRegistry();
  const inbox = new Inbox();
  registry.subscribe(inbox, "a");
  assert.equal(registry.unsubscribe(inbox, "b")?.code, "not_subscribed");
  assert.equal(registry.unsubscribe(new Inbox(), "a")?.code, "not_subscribed");
  assert.deepEqual(registry.list(), [{ channel: "a", subscribers: 1 }]);
  assert.equal(registry.unsubscribe(inbox, "a"), undefined);
  assert.deepEqual(registry.list(), []);
});

Deno.test("registry: one failing subscriber never stops delivery to the others, and is counted", () => {
  const failures: unknown[] = [];
  const registry = new ChannelRegistry({ onDeliveryError: (_s, e) => failures.push(e) });
  const before = new Inbox();
  const after = new Inbox();
  registry.subscribe(before, "a");
  registry.subscribe(new BrokenSocket(), "a");
  registry.subscribe(after, "a");
  registry.publish(json("a", "x", "alice"));
  const frame = '{"type":"message","channel":"a","data":"x","from":"alice"}';
  assert.deepEqual(before.frames, [frame]);
  assert.deepEqual(after.frames, [frame]);
  assert.equal(failures.length, 1);
  assert.equal(registry.stats().deliveries, 2);
  assert.equal(registry.stats().deliveryFailures, 1);
});

Deno.test("registry: WSTUN_MAX_CHANNELS caps the channels of one subscriber with limit_reached", () => {
  const registry = new ChannelRegistry({ maxChannelsPerSubscriber: 2 });
  const inbox = new Inbox();
  assert.equal(registry.subscribe(inbox, "a"), undefined);
  assert.equal(registry.subscribe(inbox, "b"), undefined);
  assert.equal(registry.subscribe(inbox, "c")?.code, "limit_reached");
  registry.unsubscribe(inbox, "a");
  assert.equal(registry.subscribe(inbox, "c"), undefined, "leaving frees a slot");
});

Deno.test("registry: every publish goes through the bridge, which opens and closes channels", () => {
  const log: string[] = [];
  let deliver: (m: ChannelMessage) => void = () => {};
  const bridge: ChannelBridge = {
    attach: (d) => deliver = d,
    publish: (m) => {
      log.push(`publish ${m.channel}`);
      deliver(m);
    },
    open: (c) => log.push(`open ${c}`),
    close: (c) => log.push(`close ${c}`),
    shutdown: () => log.push("shutdown"),
  };
  const registry = new ChannelRegistry({ bridge });
  const a = new Inbox();
  const b = new Inbox();
  registry.subscribe(a, "room");
  registry.subscribe(b, "room");
  registry.publish(json("room", 1));
  // A message arriving from another isolate is delivered like a local one.
  deliver(json("room", 2, "remote"));
  registry.unsubscribeAll(a);
  registry.unsubscribe(b, "room");
  registry.shutdown();
  assert.deepEqual(log, ["open room", "publish room", "close room", "shutdown"]);
  assert.equal(a.frames.length, 2);
  assert.equal(b.frames[1], '{"type":"message","channel":"room","data":2,"from":"remote"}');
});

Deno.test("registry: binary deliveries carry the kind 0x02 header with channel and sender", () => {
  const registry = new ChannelRegistry();
  const inbox = new Inbox();
  registry.subscribe(inbox, "bin");
  registry.publish({
    channel: "bin",
    from: "c1",
    payload: { kind: "binary", bytes: new Uint8Array([9, 8, 7]) },
  });
  const frame = inbox.frames[0] as Uint8Array<ArrayBuffer>;
  assert.deepEqual([...frame.subarray(0, 3)], [0x02, 3, 2]);
  const decoded = decodeChannelBinary(frame);
  assert.ok(decoded.ok);
  assert.equal(decoded.channel, "bin");
  assert.equal(decoded.peer, "c1");
  assert.deepEqual([...decoded.payload], [9, 8, 7]);
  assert.deepEqual(decodeChannelBinary(encodeChannelBinary("é", undefined, new Uint8Array())), {
    ok: true,
    channel: "é",
    peer: "",
    payload: new Uint8Array(),
  });
  assert.equal(decodeChannelBinary(new Uint8Array([2, 5, 0, 1])).ok, false);
});
