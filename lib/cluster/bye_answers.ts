/**
 * The owner's half of a drain's hand-over: its `bye` (moving) tells every isolate that its
 * instances move; each isolate with sockets in them answers `bye_seen` once its sockets follow
 * them (their frames for them are refused `moving` from then, lib/hub/moving.ts). Links are
 * ordered, so once every answer came, every frame those sockets sent into the drained isolate's
 * instances has arrived and gone out to the sockets here, ahead of their `draining`: none is left
 * between a member that was told the room moves and a host that was told to leave. The wait is
 * bounded: an isolate that does not answer in time is logged, and the drain goes on.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Body } from "./envelope.ts";
import { Awaited } from "./awaited.ts";

export class ByeAnswers {
  readonly #awaited = new Awaited();

  constructor(
    readonly broadcast: (body: Body) => void,
    readonly log: Logger,
  ) {}

  /** Says `bye` (moving) to every isolate and waits for the answers of `peers`, at most `waitMs`. */
  async bye(peers: ReadonlySet<string>, waitMs: number): Promise<void> {
    const answers = [...peers].map((peer) => this.#awaited.ask(peer).answer);
    this.broadcast({ k: "bye", moving: true });
    if (answers.length === 0) return;
    const silent = await this.#awaited.within(answers, waitMs);
    if (silent.length === 0) return;
    this.log.warn("bridge.bye_unanswered", {
      peers: silent.join(","),
      waitMs,
      message: "isolates with sockets in this isolate's rooms did not confirm they follow them " +
        "before the drain: frames their sockets sent into these rooms meanwhile may be lost",
    });
  }

  /** `isolate` answered the `bye`. */
  seen(isolate: string): void {
    this.#awaited.answeredBy(isolate);
  }

  /** An isolate left or died: it will not answer. */
  gone(isolate: string): void {
    this.#awaited.answeredBy(isolate);
  }
}
