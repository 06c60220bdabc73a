// @ts-check
/**
 * member.js — the chat user page (/chat/main): joins through the shared room picker (share link
 * or room list), then shows the conversation the host sends (its history first), the members,
 * joins, leaves and kicks, and says clearly when the member was removed or the room closed. The
 * history comes from the host, never from the server.
 *
 * @module
 */
import {
  byId,
  createClient,
  describeError,
  roomLost,
  setBanner,
  trackConnection,
} from "../../static/wstun_page.js";
import { roomPicker } from "../../static/room_picker.js";
import { appendEntries, MAX_TEXT } from "./conversation.js";
import { renderMembers } from "../../static/member_list.js";

const client = createClient();
trackConnection(client, byId("connection"));

const state = { uuid: "", self: "", active: false };
const messages = byId("messages");

/** @param {string} kind @param {string} text */
function banner(kind, text) {
  setBanner(byId("banner"), kind, text);
}

const picker = roomPicker({
  client,
  service: "chat",
  onJoined(room) {
    state.uuid = room.uuid;
    state.self = room.userId;
    // The host's history follows the join's ack, so the conversation starts empty here.
    messages.replaceChildren();
    byId("room-title").textContent = room.name;
    byId("subtitle").textContent = `as ${room.userId}`;
    document.title = `${room.name} — chat · WSTun`;
    setActive(true);
    byId("room").hidden = false;
    byId("message").focus();
  },
});

/** @param {boolean} active */
function setActive(active) {
  state.active = active;
  byId("send").disabled = !active;
  byId("message").disabled = !active;
  byId("leave").disabled = !active;
}

/** @param {string[]} members */
function showMembers(members) {
  renderMembers(byId("members"), members, state.self, undefined);
  byId("member-count").textContent = String(members.length);
}

/** Only the host of the room this page is in speaks for it. @param {(f: any) => void} handler */
const fromHost = (handler) => (/** @type {any} */ f) => {
  if (f.uuid === state.uuid && f.from === "host") handler(f);
};

client.on(
  "chat_history",
  fromHost((f) => appendEntries(messages, Array.isArray(f.entries) ? f.entries : [], state.self)),
);
client.on("chat_entry", fromHost((f) => appendEntries(messages, [f.entry], state.self)));
client.on("chat_members", fromHost((f) => showMembers(f.members ?? [])));

client.on("kicked", (f) => {
  if (f.uuid !== state.uuid) return;
  setActive(false);
  banner("error", `You were removed from the room${f.reason ? `: ${f.reason}` : ""}.`);
});
client.on("instance_closed", (f) => {
  if (f.uuid !== state.uuid) return;
  setActive(false);
  banner(
    "error",
    f.reason === "host_left"
      ? "The room is closed: the host left."
      : "The room is closed: the host closed it.",
  );
});
client.on("host_away", (f) => {
  if (f.uuid === state.uuid) banner("warn", "The host lost its connection; waiting for it…");
});
client.on("host_back", (f) => {
  if (f.uuid === state.uuid) banner("ok", "The host is back.");
});
/**
 * Back in the room after a reconnect or a move, which may have lost some of the host's entries
 * (a crash delivers at most once): the host sends its history again, and entries already shown
 * are shown once.
 */
function catchUp() {
  if (state.active) client.send(state.uuid, "chat_resync");
}

client.on("moved", (f) => {
  if (f.uuid === state.uuid && f.ok) catchUp();
});
client.on("reconnect", (f) => {
  const lost = roomLost(f, state.uuid);
  if (!lost) return catchUp();
  // Said after libwstun's own "instance_closed" (host_left), which names no reason: this does.
  setActive(false);
  banner("error", `Could not rejoin the room: ${describeError(lost)}.`);
});
client.on("error", (f) => {
  if (f.uuid === state.uuid && f.code === "host_away") {
    banner("warn", "The host is away: your message was not delivered.");
  }
});

byId("composer").addEventListener("submit", (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const input = byId("message");
  const text = input.value.trim().slice(0, MAX_TEXT);
  if (!text || !state.active) return;
  try {
    client.send(state.uuid, "chat_send", { text });
    input.value = "";
  } catch (err) {
    banner("error", `Not sent: ${describeError(err)}`);
  }
});
byId("message").addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    byId("composer").requestSubmit();
  }
});

byId("leave").addEventListener("click", async () => {
  if (!state.active) return;
  setActive(false);
  try {
    await client.leaveInstance(state.uuid);
  } catch (err) {
    // The room may already be gone; leaving it is then done anyway, but say what happened.
    banner("warn", `Left the room (${describeError(err)}).`);
  }
  state.uuid = "";
  messages.replaceChildren();
  byId("room").hidden = true;
  await picker.showRooms();
});
