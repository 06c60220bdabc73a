/**
 * Counters since start, as `/_api/stats` reports them. Plain number fields so the per-frame path
 * pays one addition per counter and nothing else.
 *
 * @module
 */
export class Stats {
  readonly startedAt: number;
  /** Sockets open now. */
  connections = 0;
  /** Sockets accepted since start. */
  connectionsTotal = 0;
  /** Frames received from clients (control and data). */
  framesIn = 0;
  /** Data frames delivered to recipients (one frame to ten members counts ten). */
  messagesRelayed = 0;
  /** Bytes of delivered data frames: binary bytes plus text frame lengths in UTF-16 code units. */
  bytesRelayed = 0;
  instancesCreated = 0;
  /** Requests refused with an error frame or a failed ack. */
  errors = 0;
  /** Sockets closed by the server for a limit (frame size, flooding, slow consumer). */
  limitCloses = 0;
  /** UDP tunnel datagrams dropped because the recipient's `/_udp` socket was backed up. */
  udpDatagramsDropped = 0;

  constructor(now: number) {
    this.startedAt = now;
  }
}
