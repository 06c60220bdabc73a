// @ts-check
/**
 * member.js — the chat user page (/chat/main). Opened from a share link (`?room=<uuid>`, plus
 * `?token=` on a server with a token) it goes straight to the join form; without one it lists the
 * open chat rooms. The display name is the member's userId, so the server itself refuses a name
 * already taken in the room. The history comes from the host, never from the server.
 *
 * @module
 */
import {
  byId,
  createClient,
  describeError,
  el,
  params,
  setBanner,
  trackConnection,
} from "../../static/wstun_page.js";
import { appendEntries, MAX_TEXT, renderMembers } from "./conversation.js";

const client = createClient();
trackConnection(client, byId("connection"));

const state = {
  /** @type {{ uuid: string, name: string, protected: boolean } | null} */
  target: null,
  uuid: "",
  self: "",
  active: false,
};

const messages = byId("messages");

/** @param {string} kind @param {string} text */
function banner(kind, text) {
  setBanner(byId("banner"), kind, text);
}

/** @param {"rooms" | "join" | "room"} view */
function show(view) {
  for (const id of ["rooms", "join", "room"]) byId(id).hidden = id !== view;
}

async function listRooms() {
  const list = byId("room-list");
  let rooms;
  try {
    rooms = await client.listInstances("chat");
  } catch (err) {
    banner("error", `Cannot list rooms: ${describeError(err)}`);
    return [];
  }
  list.replaceChildren();
  if (rooms.length === 0) {
    list.append(el("li", { className: "empty", text: "No open rooms. Ask a host for a link." }));
  }
  for (const r of rooms) {
    list.append(el(
      "li",
      { attrs: { "data-room": r.uuid } },
      el("span", { className: "name", text: r.name }),
      r.protected ? el("span", { className: "badge", text: "password" }) : null,
      el("span", { className: "badge", text: `${r.members} in room` }),
      el("button", {
        className: "small",
        text: "Join",
        attrs: { type: "button", "aria-label": `Join ${r.name}` },
        on: { click: () => chooseRoom(r) },
      }),
    ));
  }
  return rooms;
}

/** @param {{ uuid: string, name: string, protected: boolean }} room */
function chooseRoom(room) {
  state.target = room;
  byId("join-title").textContent = `Join “${room.name}”`;
  byId("password-label").hidden = !room.protected;
  byId("join-error").textContent = "";
  show("join");
  byId("display-name").focus();
}

byId("refresh").addEventListener("click", () => listRooms());
byId("back").addEventListener("click", async () => {
  banner("", "");
  await listRooms();
  show("rooms");
});

byId("join-form").addEventListener("submit", async (/** @type {SubmitEvent} */ e) => {
  e.preventDefault();
  const target = state.target;
  if (!target) return;
  const name = byId("display-name").value.trim();
  const error = byId("join-error");
  error.textContent = "";
  if (!name) {
    error.textContent = "Choose a name.";
    return;
  }
  if (name.toLowerCase() === "host") {
    error.textContent = "“host” is reserved: pick another name.";
    return;
  }
  byId("join-button").disabled = true;
  try {
    const ack = await client.joinInstance({
      uuid: target.uuid,
      userId: name,
      token: byId("password").value || undefined,
    });
    state.uuid = ack.uuid;
    state.self = ack.userId;
    state.active = true;
    enterRoom(ack.instanceName);
  } catch (err) {
    error.textContent = describeError(err);
  } finally {
    byId("join-button").disabled = false;
  }
});

/** @param {string} name */
function enterRoom(name) {
  banner("", "");
  byId("room-title").textContent = name;
  byId("subtitle").textContent = `as ${state.self}`;
  document.title = `${name} — chat · WSTun`;
  messages.replaceChildren();
  setActive(true);
  show("room");
  byId("message").focus();
}

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

/** @param {(f: any) => void} handler */
const forRoom = (handler) => (/** @type {any} */ f) => {
  if (f.uuid === state.uuid && f.from === "host") handler(f);
};

client.on(
  "chat_welcome",
  forRoom((f) => {
    messages.replaceChildren();
    appendEntries(messages, f.entries ?? [], state.self);
    showMembers(f.members ?? []);
  }),
);
client.on("chat_entry", forRoom((f) => appendEntries(messages, [f.entry], state.self)));
client.on("chat_members", forRoom((f) => showMembers(f.members ?? [])));

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
client.on("reconnect", (f) => {
  const mine = f.instances.find((/** @type {any} */ i) => i.uuid === state.uuid);
  if (mine && !mine.ok && state.active) {
    setActive(false);
    banner("error", `Could not rejoin the room: ${describeError(mine.error)}`);
  }
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
  } catch {
    // Leaving a room that is already gone is still leaving.
  }
  state.uuid = "";
  await listRooms();
  show("rooms");
});

async function start() {
  try {
    await client.connect();
  } catch (err) {
    banner("error", `Cannot reach the server: ${describeError(err)}`);
    return;
  }
  const rooms = await listRooms();
  const wanted = params.get("room");
  if (!wanted) return show("rooms");
  const room = rooms.find((r) => r.uuid === wanted);
  if (!room) {
    banner("error", "This room no longer exists (the host may have closed it).");
    return show("rooms");
  }
  chooseRoom(room);
}

start();
