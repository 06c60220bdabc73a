/**
 * lib/cluster/link.ts alone: in-order delivery, duplicates dropped, out-of-order envelopes held
 * for a re-send, gaps reported once the hold is over (or at once without a hold).
 */
import assert from "node:assert/strict";
import { Links } from "../../../lib/cluster/link.ts";

function recorder(holdMs: number) {
  const delivered: string[] = [];
  const gaps: [string, number, string][] = [];
  const links = new Links<string>(holdMs, {
    deliver: (_from, item) => delivered.push(item),
    gap: (from, lost, link) => gaps.push([from, lost, link]),
  });
  return { links, delivered, gaps };
}

Deno.test("links: numbers each destination's envelopes from 1", () => {
  const { links } = recorder(0);
  assert.deepEqual([links.next("a"), links.next("a"), links.next("b"), links.next("a")], [
    1,
    2,
    1,
    3,
  ]);
});

Deno.test("links: in order, duplicates and stale numbers dropped", () => {
  const { links, delivered, gaps } = recorder(0);
  links.accept("x", 1, "one");
  links.accept("x", 2, "two");
  links.accept("x", 2, "two again");
  links.accept("x", 1, "stale");
  assert.deepEqual(delivered, ["one", "two"]);
  assert.deepEqual(gaps, []);
});

Deno.test("links: without a hold, a gap is reported at once and the link goes on", () => {
  const { links, delivered, gaps } = recorder(0);
  links.accept("x", 1, "one");
  links.accept("x", 4, "four");
  links.accept("x", 2, "two, too late");
  assert.deepEqual(delivered, ["one", "four"]);
  assert.deepEqual(gaps, [["x", 2, "x"]]);
});

Deno.test("links: with a hold, a re-sent envelope that arrives late is put back in order", () => {
  const { links, delivered, gaps } = recorder(10_000);
  links.accept("x", 1, "one");
  links.accept("x", 3, "three");
  links.accept("x", 4, "four");
  assert.deepEqual(delivered, ["one"]);
  links.accept("x", 2, "two");
  assert.deepEqual(delivered, ["one", "two", "three", "four"]);
  assert.deepEqual(gaps, []);
  links.close();
});

Deno.test("links: with a hold, what never comes is reported lost when the hold ends", async () => {
  const { links, delivered, gaps } = recorder(30);
  links.accept("x", 1, "one");
  links.accept("x", 3, "three");
  assert.deepEqual(delivered, ["one"]);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(delivered, ["one", "three"]);
  assert.deepEqual(gaps, [["x", 1, "x"]]);
});

Deno.test("links: a broadcast link starts at the first number seen and is kept apart", () => {
  const { links, delivered, gaps } = recorder(0);
  links.accept("x", 41, "b41", "*x", true);
  links.accept("x", 42, "b42", "*x", true);
  links.accept("x", 1, "d1");
  links.accept("x", 44, "b44", "*x", true);
  assert.deepEqual(delivered, ["b41", "b42", "d1", "b44"]);
  assert.deepEqual(gaps, [["x", 1, "*x"]]);
});

Deno.test("links: an isolate taken for gone that comes back goes on with its numbers, both ways", () => {
  const { links, delivered, gaps } = recorder(0);
  links.accept("x", 1, "d1");
  links.accept("x", 41, "b41", "*x", true);
  assert.equal(links.next("x"), 1);
  assert.equal(links.next("x"), 2);
  links.forget("x", "*x"); // x stopped beating: a paused process, not a dead one
  // It wakes up and goes on: nothing it sends is taken for a duplicate or a gap…
  links.accept("x", 2, "d2");
  links.accept("x", 42, "b42", "*x", true);
  assert.deepEqual(delivered, ["d1", "b41", "d2", "b42"]);
  assert.deepEqual(gaps, []);
  // …and what we send it follows what it already has, instead of starting again at 1.
  assert.equal(links.next("x"), 3);
  // Old numbers still count as duplicates.
  links.accept("x", 1, "d1 again");
  assert.equal(delivered.length, 4);
});
