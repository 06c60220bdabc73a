/**
 * Which tunnel client serves which id: the seam between the viewer routes and the sessions.
 *
 * The viewer proxy only ever calls {@link TunnelEndpoint.open} and uses the returned
 * {@link TunnelStream}; it never touches a socket. The local registry maps ids to sessions on
 * this isolate. A cross-isolate registry (issue 5's bridge) implements the same interface with an
 * endpoint whose `open()` relays SYN/DATA/ACK/FIN for one stream over the bridge to the isolate
 * holding the client, so per-stream credit is preserved end to end (see docs/tunnels.md).
 *
 * Guarantees of the local registry: at most one endpoint per id; `attach` returns the endpoint it
 * displaced so the caller can close it (last registration wins, as upstream); `detach` removes an
 * endpoint only if it is still the current one, so a late close of an evicted session never
 * unregisters its successor.
 *
 * @module
 */

/** One stream to a tunnel client, as the viewer proxy uses it (a wsmux stream satisfies it). */
export interface TunnelStream {
  /** Bytes from the client; reading acknowledges them (credit flows back). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Sends bytes, waiting for credit; rejects once the stream is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends this direction (FIN). */
  closeWrite(): void;
  /** Gives the stream up in both directions. */
  abort(): void;
}

/** A connected tunnel client. */
export interface TunnelEndpoint {
  /** Opens a stream to the client (rejects with a `MuxError`). */
  open(): Promise<TunnelStream>;
  /** Disconnects the client. */
  close(code: number, reason: string): void;
}

export interface TunnelRegistry {
  /** Makes `endpoint` serve `id`; returns the endpoint it displaced, if any. */
  attach(id: string, endpoint: TunnelEndpoint): TunnelEndpoint | undefined;
  /** Removes `endpoint` if it still serves `id`. */
  detach(id: string, endpoint: TunnelEndpoint): void;
  /** The endpoint serving `id`. */
  find(id: string): TunnelEndpoint | undefined;
  /** Every attached endpoint (for shutdown). */
  endpoints(): TunnelEndpoint[];
  /**
   * The endpoint for an id not on this isolate (a cross-isolate registry only); asked only after
   * `find` missed, so the same-isolate path never pays for it.
   */
  locate?(id: string): Promise<TunnelEndpoint | undefined>;
}

/** A registry for the tunnel clients connected to this isolate. */
export function createLocalRegistry(): TunnelRegistry {
  const byId = new Map<string, TunnelEndpoint>();
  return {
    attach(id, endpoint) {
      const previous = byId.get(id);
      byId.set(id, endpoint);
      return previous === endpoint ? undefined : previous;
    },
    detach(id, endpoint) {
      if (byId.get(id) === endpoint) byId.delete(id);
    },
    find: (id) => byId.get(id),
    endpoints: () => [...byId.values()],
  };
}
