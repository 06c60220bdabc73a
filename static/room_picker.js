// @ts-check
/**
 * room_picker.js — how a member page of a built-in service gets into a room: the list of open
 * rooms of that service, and the join form (display name, password when the room has one).
 * Opened from a share link (`?room=<uuid>`) it goes straight to the form. The display name is the
 * member's userId, so the server itself refuses a name already taken in the room.
 *
 * The page's markup provides #rooms, #room-list, #refresh, #join, #join-title, #join-form,
 * #display-name, #password-label, #password, #join-button, #back, #join-error and #banner.
 *
 * @module
 */
import { byId, describeError, el, params, setBanner } from "./wstun_page.js";

/**
 * @typedef {object} JoinedRoom
 * @property {string} uuid
 * @property {string} userId
 * @property {string} name
 */

/**
 * Shows the room list or the join form and calls `onJoined` after a successful join. Handlers for
 * the room's frames should be registered before calling this (the host greets a newcomer at once).
 * @param {{ client: import("./libwstun.js").WSTunClient, service: string, onJoined: (room: JoinedRoom) => void }} options
 * @returns {{ showRooms: () => Promise<void> }}
 */
export function roomPicker({ client, service, onJoined }) {
  /** @type {{ uuid: string, name: string, protected: boolean } | null} */
  let target = null;

  /** @param {boolean} rooms @param {boolean} join */
  function show(rooms, join) {
    byId("rooms").hidden = !rooms;
    byId("join").hidden = !join;
  }

  async function listRooms() {
    let rooms;
    try {
      rooms = await client.listInstances(service);
    } catch (err) {
      setBanner(byId("banner"), "error", `Cannot list rooms: ${describeError(err)}`);
      return [];
    }
    const list = byId("room-list");
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
          on: { click: () => choose(r) },
        }),
      ));
    }
    return rooms;
  }

  /** @param {{ uuid: string, name: string, protected: boolean }} room */
  function choose(room) {
    target = room;
    byId("join-title").textContent = `Join “${room.name}”`;
    byId("password-label").hidden = !room.protected;
    byId("join-error").textContent = "";
    show(false, true);
    byId("display-name").focus();
  }

  async function showRooms() {
    await listRooms();
    show(true, false);
  }

  byId("refresh").addEventListener("click", () => listRooms());
  byId("back").addEventListener("click", () => {
    setBanner(byId("banner"), "", "");
    showRooms();
  });

  byId("join-form").addEventListener("submit", async (/** @type {SubmitEvent} */ e) => {
    e.preventDefault();
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
      show(false, false);
      setBanner(byId("banner"), "", "");
      onJoined({ uuid: ack.uuid, userId: ack.userId, name: ack.instanceName });
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      byId("join-button").disabled = false;
    }
  });

  /** Connects, then shows the room from the link or the list. */
  async function start() {
    try {
      await client.connect();
    } catch (err) {
      setBanner(byId("banner"), "error", `Cannot reach the server: ${describeError(err)}`);
      return;
    }
    const rooms = await listRooms();
    const wanted = params.get("room");
    if (!wanted) return show(true, false);
    const room = rooms.find((r) => r.uuid === wanted);
    if (!room) {
      setBanner(
        byId("banner"),
        "error",
        "This room no longer exists (the host may have closed it).",
      );
      return show(true, false);
    }
    choose(room);
  }

  start();
  return { showRooms };
}
