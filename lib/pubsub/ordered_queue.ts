/**
 * Runs one connection's commands strictly in arrival order, where some commands wait for the
 * authorizer and most do not.
 *
 * A task that returns nothing ran synchronously and the next one starts at once, so a burst of
 * frames that need no authorizer costs no promise each; a task that returns a promise holds the
 * queue until it settles. The queue is bounded: `push` refuses once `max` tasks wait.
 *
 * @module
 */

export type QueuedTask = () => Promise<void> | void;

export class OrderedQueue {
  #tasks: QueuedTask[] = [];
  #head = 0;
  #running = false;
  #stopped = false;
  #max: number;
  #onError: (error: unknown) => void;

  /** `onError` is told about a task that threw; the queue stops then. */
  constructor(max: number, onError: (error: unknown) => void) {
    this.#max = max;
    this.#onError = onError;
  }

  /** Queues a task; false (and nothing queued) when `max` tasks already wait. */
  push(task: QueuedTask): boolean {
    if (this.#stopped) return true;
    if (this.#tasks.length - this.#head >= this.#max) return false;
    this.#tasks.push(task);
    if (!this.#running) this.#run();
    return true;
  }

  /** Drops whatever waits; nothing queued later runs. */
  stop(): void {
    this.#stopped = true;
    this.#tasks = [];
    this.#head = 0;
  }

  #run(): void {
    this.#running = true;
    while (this.#head < this.#tasks.length && !this.#stopped) {
      const task = this.#tasks[this.#head++];
      let waiting: Promise<void> | void;
      try {
        waiting = task();
      } catch (error) {
        return this.#fail(error);
      }
      if (waiting) {
        waiting.then(() => this.#run(), (error) => this.#fail(error));
        return;
      }
    }
    // Everything ran: start the array afresh instead of shifting it element by element.
    this.#tasks = [];
    this.#head = 0;
    this.#running = false;
  }

  #fail(error: unknown): void {
    this.#running = false;
    this.stop();
    this.#onError(error);
  }
}
