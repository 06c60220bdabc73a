/**
 * A socket told that an instance it is part of moves to another isolate (`instance_moving`), until
 * it comes back into it. The frame says how many of the socket's frames the server took by then
 * (`received`); every later frame of the socket for that instance is refused `moving` and not
 * taken, until the socket sends a `join_instance`, `resume_instance`, `leave_instance` or
 * `close_instance` for it. So a client knows exactly which of its frames to send again once it is
 * back (libwstun does): those after `received` for that instance. Without the mark, a frame sent
 * before the client heard of the move would meet `not_member` or go to an owner that is gone.
 *
 * @module
 */
import { ErrorCode } from "../protocol.ts";
import { WstunError } from "../errors/wstun_error.ts";
import type { Session } from "./peer.ts";

/** Tells `session` that instance `uuid` moves, and refuses its frames for it from now. */
export function tellMoving(session: Session, uuid: string): void {
  (session.moving ??= new Set()).add(uuid);
  session.send({ type: "instance_moving", uuid, received: session.peer.received });
}

/** The refusal of a frame for `uuid` from a socket told that `uuid` moves; else undefined. */
export function movingRefusal(session: Session, uuid: string): WstunError | undefined {
  if (!session.moving?.has(uuid)) return undefined;
  return new WstunError(
    ErrorCode.Moving,
    "the instance is moving and this socket has not come back into it: send the frame again " +
      "once it has",
    { uuid },
  );
}

/** `session` deals with `uuid` again (a join, resume, leave or close): its frames count again. */
export function cameBack(session: Session, uuid: string): void {
  if (!session.moving?.delete(uuid)) return;
  if (session.moving.size === 0) session.moving = null; // its frames need not look any more
}
