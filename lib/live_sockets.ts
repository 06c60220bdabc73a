/**
 * Every client socket this isolate holds (`/_ws`, `/_udp`, `/ws`), so a drain can tell each one
 * to reconnect elsewhere and then wait, within a deadline, for them to be gone.
 *
 * @module
 */

/**
 * How long a drained socket is left to close itself before the server closes it: a client that
 * is still sending when the server closes would have its last frames, `draining` and the close
 * frame itself cut off (the server's socket ends with unread data in it, which resets the TCP
 * connection), so a client that knows the protocol closes first, behind its own frames.
 */
export const CLIENT_CLOSE_WAIT_MS = 1_000;

/** A socket that can be asked to leave because the server is draining. */
export interface Drainable {
  /**
   * Says goodbye in the socket's protocol and closes it (1012: reconnect now) at `closeAt` (ms
   * since the epoch) at the latest, or at once when its protocol has no goodbye.
   */
  drain(closeAt: number): void;
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

  /**
   * Asks every socket to leave, gives them {@link CLIENT_CLOSE_WAIT_MS} (at most half the time
   * left) to close themselves; resolves once all closed, or at `deadline` (ms since epoch).
   */
  async drainAll(deadline: number): Promise<void> {
    const now = Date.now();
    const closeAt = now + Math.min(CLIENT_CLOSE_WAIT_MS, Math.max(0, deadline - now) / 2);
    for (const socket of [...this.#sockets]) socket.drain(closeAt);
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
