/**
 * A real authorizer webhook on 127.0.0.1 for tests: it records every request (body and the
 * client's port, to see connection reuse) and answers with the status the test sets, on cue.
 *
 * @module
 */

export interface AuthorizerCall {
  body: { command: string; args: Record<string, unknown> | null; client?: unknown };
  /** The port the WSTun side called from: the same port twice means a reused connection. */
  remotePort: number;
}

type Answer = number | ((call: AuthorizerCall) => number);

export class LoopbackAuthorizer {
  readonly calls: AuthorizerCall[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  #answer: Answer = 200;
  #waiters: Array<() => void> = [];

  private constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req, info) => {
        const call: AuthorizerCall = { body: await req.json(), remotePort: info.remoteAddr.port };
        this.calls.push(call);
        for (const wake of this.#waiters.splice(0)) wake();
        const status = typeof this.#answer === "number" ? this.#answer : this.#answer(call);
        const body = status === 204 || status === 304 ? null : status === 200 ? "ok" : "no";
        return new Response(body, { status });
      },
    );
  }

  static start(): LoopbackAuthorizer {
    return new LoopbackAuthorizer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/authorize`;
  }

  /** Answer 200 from now on. */
  allow(): void {
    this.#answer = 200;
  }

  /** Answer 403 (not authorized) from now on. */
  deny(): void {
    this.#answer = 403;
  }

  /** Answer 503 ("the authorizer is down") from now on. */
  fail(): void {
    this.#answer = 503;
  }

  /** Decide per call. */
  answerWith(answer: (call: AuthorizerCall) => number): void {
    this.#answer = answer;
  }

  /** Resolves once at least `count` calls have arrived. */
  async waitForCalls(count: number, timeoutMs = 3000): Promise<AuthorizerCall[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.calls.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`expected ${count} authorizer calls, got ${this.calls.length}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.calls;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
