/**
 * Where this isolate is in its life: serving, or draining (a restart or a deploy: new sockets are
 * refused with 503 and `Retry-After`, health says so). One object per server, read by the routes.
 *
 * @module
 */
export class Lifecycle {
  /** Since when (ms) this isolate drains; null while it serves. */
  drainingSince: number | null = null;

  get draining(): boolean {
    return this.drainingSince !== null;
  }
}
