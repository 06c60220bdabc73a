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
  setBanner,
  splitForFrames,
  trackConnection,
} from "../../static/wstun_page.js";
import { appendEntries, MAX_HISTORY, MAX_TEXT } from "./conversation.js";
import { showHostMembers } from "../../static/member_list.js";

/** @typedef {import("./conversation.js").Entry} Entry */

const client = createClient();
trackConnection(client, byId("connection"));

/** State of the room this page hosts. */
const room = {
  uuid: "",
  /** @type {Entry[]} */
  history: [],
  /** @type {string[]} */
  members: [],
  nextId: 1,
};

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
  const to = room.members.filter((m) => m !== except);
  if (to.length === 0) return;
  client.send(room.uuid, "chat_entry", { entry }, except ? { to } : {});
}

/** Sends the member list to every member. */
function sendMembers() {
  if (room.members.length === 0) return;
  client.send(room.uuid, "chat_members", { members: room.members });
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
  room.members = [...room.members.filter((m) => m !== f.userId), f.userId];
  const entry = record("join", f.userId);
  sendHistory(f.userId);
  broadcast(entry, f.userId);
  sendMembers();
  showHostMembers(client, room.uuid, room.members);
});

client.on("client_disconnected", (f) => {
  if (f.uuid !== room.uuid) return;
  room.members = room.members.filter((m) => m !== f.userId);
  const kind = f.reason === "kicked" ? "kick" : f.reason === "left" ? "leave" : "disconnect";
  const entry = record(kind, f.userId, kind === "kick" ? { reason: "removed by the host" } : {});
  broadcast(entry);
  sendMembers();
  showHostMembers(client, room.uuid, room.members);
});

client.on("chat_send", (f) => {
  if (f.uuid !== room.uuid || !room.members.includes(f.from)) return;
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
  const mine = f.instances.find((/** @type {any} */ i) => i.uuid === room.uuid);
  if (mine && !mine.ok) setBanner(byId("banner"), "error", "The room was lost while offline.");
});

bindCreateForm(client, "chat", (created) => {
  room.uuid = created.uuid;
  showHostMembers(client, room.uuid, room.members);
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
