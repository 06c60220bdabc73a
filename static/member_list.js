// @ts-check
/**
 * member_list.js — the member list of a room as its host or members see it, shared by the built-in
 * services: one row per userId (written as text), "you" on the viewer's own row, and on the host's
 * page a labelled Kick button per member (see {@link showHostMembers}). {@link HostRoster} keeps
 * the host's list across its own reconnects (a server restart): members who come back are not
 * new, and those who do not come back are counted gone after {@link RETURN_WAIT_MS}.
 *
 * @module
 */
import { byId, describeError, el, setBanner } from "./wstun_page.js";

/** How a userId is shown: the host's frames come from "host". @param {string} userId */
export function displayName(userId) {
  return userId === "host" ? "Host" : userId;
}

/**
 * Renders the member list; `onKick` (host only) adds a labelled kick button per member, and
 * members in `away` (host only: not back yet after a reconnect) are marked so.
 * @param {HTMLElement} list
 * @param {string[]} members
 * @param {string} self
 * @param {((userId: string) => void) | undefined} onKick
 * @param {ReadonlySet<string>} [away]
 */
export function renderMembers(list, members, self, onKick, away = new Set()) {
  list.replaceChildren();
  if (members.length === 0) {
    list.append(el("li", { className: "empty", text: "Nobody has joined yet." }));
    return;
  }
  for (const userId of members) {
    list.append(el(
      "li",
      { attrs: { "data-user": userId } },
      el("span", { className: "name", text: displayName(userId) }),
      userId === self ? el("span", { className: "badge", text: "you" }) : null,
      away.has(userId) ? el("span", { className: "badge away", text: "reconnecting…" }) : null,
      onKick
        ? el("button", {
          className: "danger small",
          text: "Kick",
          attrs: { type: "button", "aria-label": `Kick ${userId}` },
          on: { click: () => onKick(userId) },
        })
        : null,
    ));
  }
}

/**
 * The host page's member list: the roster's members with a Kick button each, in `#members`, and
 * their count in `#member-count`. A kick the server refuses is reported in `#banner`; the member's
 * `client_disconnected` (reason "kicked") is what removes the row.
 * @param {HostRoster} roster
 */
export function showHostMembers(roster) {
  const { client, uuid, members, away } = roster;
  renderMembers(byId("members"), members, "host", async (userId) => {
    try {
      await client.kick(uuid, userId, "removed by the host");
    } catch (err) {
      setBanner(byId("banner"), "error", `Could not kick ${userId}: ${describeError(err)}`);
    }
  }, away);
  byId("member-count").textContent = String(members.length);
}

/**
 * How long a host, back in its room after its own connection dropped (a server restart, a
 * network change), waits for the members it lists to come back before counting them gone.
 * Members rejoin by themselves within seconds of their host (libwstun); one that has not after
 * this long closed its tab or lost its network meanwhile.
 */
export const RETURN_WAIT_MS = 30_000;

/**
 * The members of a room as its host knows them, across the host's own reconnects.
 *
 * When a server drains or dies, nobody is told that members left (they did not: they rejoin the
 * room once it is back, and the host gets `client_connected` for each). So while the host is
 * away every member it lists is marked away; once its room is back it asks the server which of
 * them are in the room now (a `members_check` frame sent to them with a `ref`: `ok`, or `error`
 * `not_member` naming the others), and waits {@link RETURN_WAIT_MS} for the rest, then reports
 * each one still away to `gone`. A member who comes back is not a newcomer ({@link arrived}).
 */
export class HostRoster {
  /**
   * @param {import("./libwstun.js").WSTunClient} client
   * @param {{ gone: (userId: string) => void, changed: () => void }} hooks `gone`: a member did
   *   not come back (treat it as `client_disconnected` `disconnected`); `changed`: redraw
   */
  constructor(client, hooks) {
    this.client = client;
    this.hooks = hooks;
    /** The hosted room ("" until it is created). */
    this.uuid = "";
    /** @type {string[]} in the order they joined */
    this.members = [];
    /** Members not back since the host's connection dropped. @type {Set<string>} */
    this.away = new Set();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** The room is closed: nobody comes back to it. */
    this.closed = false;
    client.on("close", () => this.#hostAway());
    client.on("instance_moving", (f) => {
      if (f.uuid !== this.uuid) return;
      this.#hostAway();
      // A move has no event for "back": count from now (the host follows its room at once).
      this.#waitForReturns();
    });
    client.on("reconnect", (f) => {
      if (f.instances.some((/** @type {any} */ i) => i.uuid === this.uuid && i.ok)) this.#back();
    });
    client.on("instance_closed", (f) => {
      if (f.uuid !== this.uuid) return;
      this.closed = true;
      clearTimeout(this.timer);
      this.away.clear();
    });
  }

  /**
   * A member arrived (`client_connected`); true when it is one the host listed already, coming
   * back, false for a newcomer.
   * @param {string} userId
   */
  arrived(userId) {
    const back = this.members.includes(userId);
    if (!back) this.members.push(userId);
    this.away.delete(userId);
    if (this.away.size === 0) clearTimeout(this.timer);
    return back;
  }

  /** A member is gone (`client_disconnected`, or did not come back). @param {string} userId */
  left(userId) {
    this.members = this.members.filter((m) => m !== userId);
    this.away.delete(userId);
  }

  #hostAway() {
    if (!this.uuid || this.closed) return;
    for (const userId of this.members) this.away.add(userId);
    this.hooks.changed();
  }

  /** The host is back in its room: find out who is in it now, and wait for the others. */
  async #back() {
    const asked = [...this.away];
    if (asked.length === 0) return;
    this.#waitForReturns();
    let missing = [];
    try {
      await this.client.request({ type: "members_check", uuid: this.uuid, to: asked });
    } catch (err) {
      const frame = /** @type {any} */ (err).frame;
      // Not an answer about members (the socket dropped again): the next reconnect asks again.
      if (/** @type {any} */ (err).code !== "not_member" || !Array.isArray(frame?.to)) return;
      missing = frame.to;
    }
    for (const userId of asked) if (!missing.includes(userId)) this.away.delete(userId);
    this.hooks.changed();
  }

  #waitForReturns() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      for (const userId of [...this.away]) {
        this.left(userId);
        this.hooks.gone(userId);
      }
      this.hooks.changed();
    }, RETURN_WAIT_MS);
  }
}
