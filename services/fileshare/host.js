// @ts-check
/**
 * host.js — the fileshare host page (/fileshare/service). The host keeps the room's file list (the
 * seed's flow: a member's `file_register` reaches the host, which broadcasts `file_list`), tells
 * members when someone leaves (`member_left`, so their transfers with that person stop with a
 * clear message), kicks, and can share and download files itself as userId "host". File bytes
 * never pass through this page unless the host is one end of the transfer.
 *
 * @module
 */
import {
  bindCreateForm,
  byId,
  createClient,
  describeError,
  roomLost,
  setBanner,
  splitForFrames,
  trackConnection,
} from "../../static/wstun_page.js";
import { HostRoster, showHostMembers } from "../../static/member_list.js";
import { mountFileRoom } from "./room.js";

/** @typedef {import("./transfer.js").SharedFile} SharedFile */
/** @typedef {import("./room.js").OwnFile} OwnFile */

/** Files one member may list at once, and the longest name and type accepted. */
const MAX_FILES_PER_MEMBER = 1000;
const MAX_NAME = 255;
const MAX_TYPE = 127;

const client = createClient();
trackConnection(client, byId("connection"));

/** The room this page hosts; its members are in `roster`. */
const room = {
  uuid: "",
  /** owner → file id → file. @type {Map<string, Map<string, SharedFile>>} */
  registry: new Map(),
  /** @type {ReturnType<typeof mountFileRoom> | null} */
  view: null,
  /** A list broadcast waiting to go out. @type {ReturnType<typeof setTimeout> | undefined} */
  publishTimer: undefined,
};

const roster = new HostRoster(client, {
  gone: (userId) => memberGone(userId, "disconnected"),
  changed: () => showHostMembers(roster),
});

/** Changes within this long go out as one `file_list`, so a burst of registrations stays cheap. */
const PUBLISH_DELAY_MS = 30;

function fileList() {
  return [...room.registry.values()].flatMap((files) => [...files.values()]);
}

/** Broadcasts the list soon, once for any number of changes until then. */
function schedulePublish() {
  room.publishTimer ??= setTimeout(() => {
    room.publishTimer = undefined;
    publish();
  }, PUBLISH_DELAY_MS);
}

/**
 * Sends the file list to everyone (or to one newcomer) and shows it here. A long list goes in
 * several frames: the first replaces the receiver's list, the others have `append: true`.
 * @param {string} [to]
 */
function publish(to) {
  const files = fileList();
  room.view?.showFiles(files);
  if (roster.members.length === 0) return;
  const batches = splitForFrames(files);
  batches.forEach((batch, i) => {
    const frame = { files: batch, append: i > 0, done: i === batches.length - 1 };
    client.send(room.uuid, "file_list", frame, to ? { to } : {});
  });
}

/**
 * Adds an owner's files after checking each field; returns how many were accepted.
 * @param {string} owner
 * @param {unknown} files
 */
function registerFiles(owner, files) {
  if (!Array.isArray(files)) return 0;
  const mine = room.registry.get(owner) ?? new Map();
  let accepted = 0;
  for (const f of files) {
    if (mine.size >= MAX_FILES_PER_MEMBER) break;
    if (!validFile(f)) continue;
    mine.set(f.id, { owner, id: f.id, name: f.name, size: f.size, type: f.type ?? "" });
    accepted++;
  }
  room.registry.set(owner, mine);
  return accepted;
}

/** @param {any} f @returns {f is OwnFile} */
function validFile(f) {
  return typeof f === "object" && f !== null &&
    typeof f.id === "string" && f.id.length > 0 && f.id.length <= 64 &&
    typeof f.name === "string" && f.name.length > 0 && f.name.length <= MAX_NAME &&
    Number.isSafeInteger(f.size) && f.size >= 0 &&
    (f.type === undefined || (typeof f.type === "string" && f.type.length <= MAX_TYPE));
}

/** @param {string} owner @param {unknown} ids */
function unregisterFiles(owner, ids) {
  if (!Array.isArray(ids)) return;
  const mine = room.registry.get(owner);
  for (const id of ids) mine?.delete(id);
}

client.on("client_connected", (f) => {
  if (f.uuid !== room.uuid) return;
  // A member coming back after a server restart keeps its files in the list.
  roster.arrived(f.userId);
  showHostMembers(roster);
  publish(f.userId);
});

/**
 * A member is gone (left, kicked, lost its connection, or did not come back after the host's own
 * reconnect): its files leave the list and everyone's transfers with it stop.
 * @param {string} userId
 * @param {string} reason "left" | "kicked" | "disconnected"
 */
function memberGone(userId, reason) {
  roster.left(userId);
  room.registry.delete(userId);
  const why = reason === "kicked" ? "was removed from the room" : "left the room";
  room.view?.engine.peerLeft(userId, why);
  showHostMembers(roster);
  if (roster.members.length) {
    client.send(room.uuid, "member_left", { userId, reason });
  }
  schedulePublish();
}

client.on("client_disconnected", (f) => {
  if (f.uuid === room.uuid) memberGone(f.userId, f.reason);
});

client.on("file_register", (f) => {
  if (f.uuid !== room.uuid || !roster.members.includes(f.from)) return;
  if (registerFiles(f.from, f.files) > 0) schedulePublish();
});

client.on("file_unregister", (f) => {
  if (f.uuid !== room.uuid || !roster.members.includes(f.from)) return;
  unregisterFiles(f.from, f.ids);
  schedulePublish();
});

client.on("instance_closed", (f) => {
  if (f.uuid !== room.uuid) return;
  room.view?.engine.stopAll("the room is closed");
  setBanner(byId("banner"), "error", "This room is closed.");
});

client.on("reconnect", (f) => {
  const lost = roomLost(f, room.uuid);
  if (!lost) return;
  room.view?.engine.stopAll("the room was lost while offline");
  setBanner(byId("banner"), "error", `The room was lost while offline: ${describeError(lost)}.`);
});

bindCreateForm(client, "fileshare", (created) => {
  room.uuid = created.uuid;
  roster.uuid = created.uuid;
  room.view = mountFileRoom({
    client,
    uuid: room.uuid,
    self: "host",
    register(files) {
      registerFiles("host", files);
      schedulePublish();
    },
    unregister(ids) {
      unregisterFiles("host", ids);
      schedulePublish();
    },
  });
  room.view.showFiles([]);
  showHostMembers(roster);
});

byId("close-room").addEventListener("click", async () => {
  if (!room.uuid) return;
  try {
    await client.closeInstance(room.uuid);
    room.view?.engine.stopAll("the room is closed");
    setBanner(byId("banner"), "ok", "Room closed. Members were told.");
    byId("close-room").disabled = true;
  } catch (err) {
    setBanner(byId("banner"), "error", describeError(err));
  }
});

try {
  await client.connect();
} catch (err) {
  setBanner(byId("banner"), "error", `Cannot reach the server: ${describeError(err)}`);
}
