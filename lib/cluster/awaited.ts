/**
 * Answers a draining isolate waits for from other isolates, each question to one isolate: a
 * `hold` to the owner of rooms its sockets are members of (lib/cluster/member_hold.ts), a `bye` to
 * each isolate with sockets in its rooms (lib/cluster/node.ts, `drain`). Links are ordered, so an
 * answer is a barrier: what its isolate posted before it has arrived. The wait is bounded, and a
 * question to an isolate that leaves or dies is answered by its going.
 *
 * @module
 */

interface Question {
  isolate: string;
  answered(): void;
}

export class Awaited {
  #nextId = 1;
  readonly #asked = new Map<number, Question>();

  /** A question to `isolate`: its id (sent with it), and its answer to wait for. */
  ask(isolate: string): { id: number; answer: Promise<void> } {
    const id = this.#nextId++;
    const answer = new Promise<void>((answered) => this.#asked.set(id, { isolate, answered }));
    return { id, answer };
  }

  /**
   * Resolves once every one of `answers` came, or after `waitMs`, with the isolates that did not
   * answer (their questions are dropped).
   */
  async within(answers: Promise<void>[], waitMs: number): Promise<string[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(answers),
      new Promise((resolve) => timer = setTimeout(resolve, waitMs)),
    ]);
    clearTimeout(timer);
    const silent = [...new Set([...this.#asked.values()].map((q) => q.isolate))];
    this.#asked.clear();
    return silent;
  }

  /** Question `id` was answered. */
  answered(id: number): void {
    const question = this.#asked.get(id);
    if (!question) return;
    this.#asked.delete(id);
    question.answered();
  }

  /**
   * Every question to `isolate` was answered: by an answer that names no question, or by its
   * going (it left or died: it will not answer).
   */
  answeredBy(isolate: string): void {
    for (const [id, question] of this.#asked) if (question.isolate === isolate) this.answered(id);
  }
}
