/**
 * How long a directory record (an instance's or a tunnel's) outlives its last write.
 *
 * @module
 */

/** Records expire after an hour unless rewritten; owners rewrite every 20 minutes. */
export const RECORD_TTL_MS = 3_600_000;
