/**
 * A TCP forwarder between a tunnel tool and the relay that can stop carrying the tool's bytes: a
 * network link that stalls, so the tool's unsent backlog grows as it would on a slow uplink (on
 * loopback the relay reads as fast as anything can write). Bytes towards the tool keep flowing.
 *
 * @module
 */
export class StallingProxy {
  #stalled = false;
  #resume = Promise.withResolvers<void>();
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  private constructor(readonly listener: Deno.TcpListener, readonly targetPort: number) {
    this.#accepting = this.#accept();
  }

  /** Listens on an ephemeral loopback port and forwards to `127.0.0.1:<targetPort>`. */
  static start(targetPort: number): StallingProxy {
    return new StallingProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), targetPort);
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.listener.addr.port}`;
  }

  /** Stops reading from the tool: its bytes pile up in the kernel's buffers, then in its own. */
  stall(): void {
    this.#stalled = true;
  }

  async close(): Promise<void> {
    this.#stalled = false;
    this.#resume.resolve();
    this.listener.close();
    for (const conn of this.#conns) {
      this.#conns.delete(conn);
      conn.close();
    }
    await this.#accepting;
    await Promise.all(this.#pipes);
  }

  async #accept(): Promise<void> {
    for await (const client of this.listener) {
      const relay = await Deno.connect({ hostname: "127.0.0.1", port: this.targetPort });
      this.#conns.add(client).add(relay);
      this.#pipe(client, relay, true);
      this.#pipe(relay, client, false);
    }
  }

  #pipe(from: Deno.TcpConn, to: Deno.TcpConn, stalls: boolean): void {
    const done = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          if (stalls && this.#stalled) await this.#resume.promise;
          const n = await from.read(buffer);
          if (n === null) break;
          let written = 0;
          while (written < n) written += await to.write(buffer.subarray(written, n));
        }
      } catch {
        // One side closed: the other is closed below, as a network path would end.
      }
      for (const conn of [from, to]) {
        if (this.#conns.delete(conn)) conn.close();
      }
    })();
    this.#pipes.add(done);
  }
}
