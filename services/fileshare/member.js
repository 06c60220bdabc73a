// @ts-check
/**
 * member.js — the fileshare user page (/fileshare/main): joins through the shared room picker,
 * registers the files it offers with the host (`file_register` / `file_unregister`), shows the
 * host's `file_list`, and downloads from and uploads to other participants point to point. When
 * the other end of a transfer leaves, is removed, or the room closes, the transfer stops with a
 * message saying so; across a server restart it goes on (see transfer.js).
 *
 * @module
 */
import {
  byId,
  createClient,
  describeError,
  roomLost,
  setBanner,
  splitForFrames,
  trackConnection,
} from "../../static/wstun_page.js";
import { roomPicker } from "../../static/room_picker.js";
import { mountFileRoom } from "./room.js";

const client = createClient();
trackConnection(client, byId("connection"));

const state = {
  uuid: "",
  self: "",
  /** @type {ReturnType<typeof mountFileRoom> | null} */
  view: null,
  /** The latest list from the host, kept in case it arrives before the view exists. @type {any[]} */
  files: [],
};

/** @param {string} kind @param {string} text */
function banner(kind, text) {
  setBanner(byId("banner"), kind, text);
}

/** Only the host of this page's room speaks for it. @param {(f: any) => void} handler */
const fromHost = (handler) => (/** @type {any} */ f) => {
  if (f.uuid === state.uuid && f.from === "host") handler(f);
};

/** @param {string} type @param {Record<string, unknown>} fields */
function toHost(type, fields) {
  try {
    client.send(state.uuid, type, fields);
  } catch (err) {
    banner("error", `Not sent to the host: ${describeError(err)}`);
  }
}

roomPicker({
  client,
  service: "fileshare",
  onJoined(room) {
    state.uuid = room.uuid;
    state.self = room.userId;
    byId("room-title").textContent = room.name;
    byId("subtitle").textContent = `as ${room.userId}`;
    document.title = `${room.name} — fileshare · WSTun`;
    state.view = mountFileRoom({
      client,
      uuid: room.uuid,
      self: room.userId,
      register: (files) =>
        splitForFrames(files).forEach((b) => toHost("file_register", { files: b })),
      unregister: (ids) =>
        splitForFrames(ids).forEach((b) => toHost("file_unregister", { ids: b })),
    });
    state.view.showFiles(state.files);
    byId("room").hidden = false;
  },
});

/** @param {string} why */
function roomEnded(why) {
  state.view?.engine.stopAll(why);
  banner("error", `${why[0].toUpperCase()}${why.slice(1)}.`);
  byId("share-input").disabled = true;
  byId("leave").disabled = true;
  for (const b of document.querySelectorAll("#file-list button")) {
    /** @type {HTMLButtonElement} */ (b).disabled = true;
  }
}

client.on(
  "file_list",
  fromHost((f) => {
    const files = Array.isArray(f.files) ? f.files : [];
    state.files = f.append ? [...state.files, ...files] : files;
    // A list in several frames is drawn once, when its last frame is in.
    if (f.done !== false) state.view?.showFiles(state.files);
  }),
);
client.on(
  "member_left",
  fromHost((f) => {
    const why = f.reason === "kicked" ? "was removed from the room" : "left the room";
    state.view?.engine.peerLeft(String(f.userId), why);
  }),
);
client.on("kicked", (f) => {
  if (f.uuid === state.uuid) {
    roomEnded(`you were removed from the room${f.reason ? ` (${f.reason})` : ""}`);
  }
});
client.on("instance_closed", (f) => {
  if (f.uuid !== state.uuid) return;
  roomEnded(
    f.reason === "host_left" ? "the room is closed: the host left" : "the room was closed",
  );
});
client.on("host_away", (f) => {
  if (f.uuid === state.uuid) banner("warn", "The host lost its connection; waiting for it…");
});
client.on("host_back", (f) => {
  if (f.uuid !== state.uuid) return;
  banner("ok", "The host is back.");
  // Registrations sent while it was away were refused (host_away): send them all again.
  state.view?.registerAll();
});
// A frame refused because its peer is not in the room is the transfer engine's business: the
// peer may be on its way back after a server restart (services/fileshare/transfer.js).
client.on("reconnect", (f) => {
  const lost = roomLost(f, state.uuid);
  if (lost) return roomEnded(`could not rejoin the room: ${describeError(lost)}`);
  const back = f.instances.some((/** @type {any} */ i) => i.uuid === state.uuid && i.ok);
  // Back in the room: registrations sent into a socket that died (a crash) never arrived; the
  // host replaces files by id, so sending them all again is harmless.
  if (back && f.unconfirmed > 0) state.view?.registerAll();
});

byId("leave").addEventListener("click", async () => {
  state.view?.engine.stopAll("you left the room");
  try {
    await client.leaveInstance(state.uuid);
  } catch (err) {
    banner("warn", `Left the room (${describeError(err)}).`);
  }
  location.assign(location.pathname + location.search.replace(/([?&])room=[^&]*&?/, "$1"));
});
