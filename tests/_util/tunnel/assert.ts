/**
 * The few assertions the tunnel tests need (JSR's @std/assert is unreachable here); they throw
 * with both values in the message.
 *
 * @module
 */
export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual, replacer), e = JSON.stringify(expected, replacer);
  if (a !== e) throw new Error(`${message ? message + ": " : ""}expected ${e}, got ${a}`);
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

export function assertMatch(actual: string, pattern: RegExp): void {
  if (!pattern.test(actual)) throw new Error(`${JSON.stringify(actual)} does not match ${pattern}`);
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
  includes: string,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof type)) throw new Error(`expected ${type.name}, got ${error}`);
    if (!error.message.includes(includes)) {
      throw new Error(`expected message to include ${JSON.stringify(includes)}: ${error.message}`);
    }
    return error;
  }
  throw new Error("expected a rejection");
}

function replacer(_key: string, value: unknown) {
  return value instanceof Uint8Array ? [...value] : value;
}
