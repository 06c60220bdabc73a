// @ts-check
/**
 * host.js — the chat host page (/chat/service). The host creates the room, keeps its history
 * (the last MAX_HISTORY entries, in this tab only), sends it to each newcomer, relays every
 * member's message to everyone, and kicks. The server never stores any of it.
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
import { appendEntries, MAX_HISTORY, MAX_TEXT } from "./conversation.js";
import { HostRoster, showHostMembers } from "../../static/member_list.js";

/** @typedef {import("./conversation.js").Entry} Entry */

const client = createClient();
trackConnection(client, byId("connection"));

/** State of the room this page hosts; its members are in `roster`. */
const room = {
  uuid: "",
  /** @type {Entry[]} */
  history: [],
  nextId: 1,
};
const roster = new HostRoster(client, {
  gone: (userId) => memberGone(userId, "disconnected"),
  changed: () => showHostMembers(roster),
});

const messages = byId("messages");

/**
 * @param {string} kind
 * @param {string} userId
 * @param {{ text?: string, reason?: string }} [extra]
 * @returns {Entry}
 */
function record(kind, userId, extra = {}) {
  const entry = { id: room.nextId++, at: Date.now(), kind, userId, ...extra };
  room.history.push(entry);
  if (room.history.length > MAX_HISTORY) room.history.shift();
  appendEntries(messages, [entry], "host");
  return entry;
}

/** Sends an entry to every member except `except` (a newcomer already has it in its history). */
function broadcast(/** @type {Entry} */ entry, except = "") {
  const to = roster.members.filter((m) => m !== except);
  if (to.length === 0) return;
  client.send(room.uuid, "chat_entry", { entry }, except ? { to } : {});
}

/** Sends the member list to every member. */
function sendMembers() {
  if (roster.members.length === 0) return;
  client.send(room.uuid, "chat_members", { members: roster.members });
}

/**
 * Sends the history to a newcomer in frames of bounded size (500 long messages would not fit one
 * frame), oldest first; the last one says `done`.
 * @param {string} userId
 */
function sendHistory(userId) {
  const batches = splitForFrames(room.history);
  batches.forEach((entries, i) => {
    const done = i === batches.length - 1;
    client.send(room.uuid, "chat_history", { entries, done }, { to: userId });
  });
}

client.on("client_connected", (f) => {
  if (f.uuid !== room.uuid) return;
  // A member coming back after a server restart never left the conversation: no "joined" line.
  // It still gets the history (it may have missed entries; it shows each only once).
  const back = roster.arrived(f.userId);
  sendHistory(f.userId);
  if (!back) broadcast(record("join", f.userId), f.userId);
  sendMembers();
  showHostMembers(roster);
});

/**
 * A member is gone: it left, was kicked, lost its connection, or did not come back after the
 * host's own reconnect.
 * @param {string} userId
 * @param {string} reason "left" | "kicked" | "disconnected"
 */
function memberGone(userId, reason) {
  roster.left(userId);
  const kind = reason === "kicked" ? "kick" : reason === "left" ? "leave" : "disconnect";
  const entry = record(kind, userId, kind === "kick" ? { reason: "removed by the host" } : {});
  broadcast(entry);
  sendMembers();
  showHostMembers(roster);
}

client.on("client_disconnected", (f) => {
  if (f.uuid === room.uuid) memberGone(f.userId, f.reason);
});

/** When each member last asked for the history again: answered at most once a second each. */
const resynced = new Map();

client.on("chat_resync", (f) => {
  if (f.uuid !== room.uuid || !roster.members.includes(f.from)) return;
  const now = Date.now();
  if (now - (resynced.get(f.from) ?? -Infinity) < 1000) return;
  resynced.set(f.from, now);
  sendHistory(f.from);
});

client.on("chat_send", (f) => {
  if (f.uuid !== room.uuid || !roster.members.includes(f.from)) return;
  if (typeof f.text !== "string") return;
  const text = f.text.trim().slice(0, MAX_TEXT);
  if (!text) return;
  broadcast(record("message", f.from, { text }));
});

client.on("instance_closed", (f) => {
  if (f.uuid !== room.uuid) return;
  setBanner(byId("banner"), "error", "This room is closed.");
  byId("send").disabled = true;
});

client.on("reconnect", (f) => {
  const lost = roomLost(f, room.uuid);
  if (!lost) return;
  setBanner(byId("banner"), "error", `The room was lost while offline: ${describeError(lost)}.`);
  byId("send").disabled = true;
});

bindCreateForm(client, "chat", (created) => {
  room.uuid = created.uuid;
  roster.uuid = created.uuid;
  showHostMembers(roster);
  byId("message").focus();
});

byId("composer").addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const input = byId("message");
  const text = input.value.trim().slice(0, MAX_TEXT);
  if (!text || !room.uuid) return;
  try {
    broadcast(record("message", "host", { text }));
    input.value = "";
  } catch (err) {
    setBanner(byId("banner"), "error", `Not sent: ${describeError(err)}`);
  }
});

byId("message").addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    byId("composer").requestSubmit();
  }
});

byId("close-room").addEventListener("click", async () => {
  if (!room.uuid) return;
  try {
    await client.closeInstance(room.uuid);
    setBanner(byId("banner"), "ok", "Room closed. Members were told.");
    byId("send").disabled = true;
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
