/**
 * The few assertions the marketplace tests use, on top of node:assert/strict (JSR's @std/assert is
 * unreachable from our machines).
 *
 * @module
 */
import assert from "node:assert/strict";

export { assert };

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  assert.match(actual, pattern, message);
}
