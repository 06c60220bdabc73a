/**
 * The draining isolate's half of a held membership: before its sockets are told `draining`, it
 * asks every owner of an instance they are members of to hold their memberships (`hold`, naming
 * the sockets) and waits for each owner's `held`. A link is ordered, so once `held` arrived every
 * frame that owner sent those sockets before it has arrived too, and is on its way to them ahead
 * of `draining`; what the owner sends them after it waits there for their rejoin (lib/hub/hub.ts,
 * `hold`). The wait is bounded: an owner that does not answer in time is logged, and the drain
 * goes on.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Body } from "./envelope.ts";
import { Awaited } from "./awaited.ts";

/** The most an owner's `held` is waited for (at most half of what is left of the drain). */
export const HOLD_WAIT_MS = 1_000;

export class MemberHolds {
  readonly #awaited = new Awaited();

  constructor(
    readonly post: (isolate: string, body: Body) => void,
    readonly log: Logger,
  ) {}

  /**
   * Asks each owner to hold its sockets' memberships (`members`: owner → sockets' conns) and
   * resolves once every one answered, or after `waitMs`.
   */
  async ask(members: ReadonlyMap<string, string[]>, waitMs: number): Promise<void> {
    if (members.size === 0) return;
    const answers: Promise<void>[] = [];
    for (const [owner, conns] of members) {
      const { id, answer } = this.#awaited.ask(owner);
      answers.push(answer);
      this.post(owner, { k: "hold", id, conns });
    }
    const owners = await this.#awaited.within(answers, waitMs);
    if (owners.length === 0) return;
    this.log.warn("bridge.hold_unanswered", {
      owners: owners.join(","),
      waitMs,
      message: "owners of rooms this isolate's sockets are members of did not confirm holding " +
        "their frames before the drain: what they send those members meanwhile may be lost",
    });
  }

  /** An owner answered hold `id`. */
  held(id: number): void {
    this.#awaited.answered(id);
  }

  /** An owner left or died: it will not answer. */
  gone(owner: string): void {
    this.#awaited.answeredBy(owner);
  }
}
