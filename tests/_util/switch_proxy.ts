/**
 * Test-only: a TCP forwarder on a loopback port that sends each new connection to whichever
 * backend is current, like a load balancer in front of several WSTun servers: a test points it at
 * another server when the first one goes away. Connections already open keep their backend.
 *
 * @module
 */
export class SwitchProxy {
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;

  private constructor(readonly listener: Deno.TcpListener, public backend: number) {
    this.#accepting = this.#accept();
  }

  /** Listens on an ephemeral loopback port, forwarding to `127.0.0.1:<backend>`. */
  static start(backend: number): SwitchProxy {
    return new SwitchProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), backend);
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.listener.addr.port}`;
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed by the other side */ }
    }
    await this.#accepting;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.listener) {
        let backend: Deno.Conn;
        try {
          backend = await Deno.connect({ hostname: "127.0.0.1", port: this.backend });
        } catch {
          client.close(); // nobody behind: the client sees the connection fail, as with an LB
          continue;
        }
        this.#conns.add(client).add(backend);
        this.#pipe(client, backend);
        this.#pipe(backend, client);
      }
    } catch { /* the listener closed */ }
  }

  #pipe(from: Deno.Conn, to: Deno.Conn): void {
    from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
      for (const conn of [from, to]) {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    });
  }
}
