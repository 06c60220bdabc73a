/**
 * Every client socket this isolate holds (`/_ws`, `/_udp`, `/ws`), so a drain can tell each one
 * to reconnect elsewhere and then wait, within a deadline, for them to be gone.
 *
 * @module
 */

/** A socket that can be asked to leave because the server is draining. */
export interface Drainable {
  /** Says goodbye in the socket's protocol and closes it (1012: reconnect now). */
  drain(): void;
}

export class LiveSockets {
  readonly #sockets = new Set<Drainable>();
  #emptied: (() => void) | null = null;

  add(socket: Drainable): void {
    this.#sockets.add(socket);
  }

  delete(socket: Drainable): void {
    this.#sockets.delete(socket);
    if (this.#sockets.size === 0) this.#emptied?.();
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Asks every socket to leave; resolves once all closed, or at `deadline` (ms since epoch). */
  async drainAll(deadline: number): Promise<void> {
    for (const socket of [...this.#sockets]) socket.drain();
    if (this.#sockets.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#emptied = resolve;
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    clearTimeout(timer);
    this.#emptied = null;
  }
}
