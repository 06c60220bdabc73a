// @ts-check
/**
 * member_list.js — the member list of a room as its host or members see it, shared by the built-in
 * services: one row per userId (written as text), "you" on the viewer's own row, and on the host's
 * page a labelled Kick button per member (see {@link showHostMembers}).
 *
 * @module
 */
import { byId, describeError, el, setBanner } from "./wstun_page.js";

/** How a userId is shown: the host's frames come from "host". @param {string} userId */
export function displayName(userId) {
  return userId === "host" ? "Host" : userId;
}

/**
 * Renders the member list; `onKick` (host only) adds a labelled kick button per member.
 * @param {HTMLElement} list
 * @param {string[]} members
 * @param {string} self
 * @param {((userId: string) => void) | undefined} onKick
 */
export function renderMembers(list, members, self, onKick) {
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
 * The host page's member list: `members` with a Kick button each, in `#members`, and their count
 * in `#member-count`. A kick the server refuses is reported in `#banner`; the member's
 * `client_disconnected` (reason "kicked") is what removes the row.
 * @param {import("./libwstun.js").WSTunClient} client
 * @param {string} uuid the hosted room
 * @param {string[]} members
 */
export function showHostMembers(client, uuid, members) {
  renderMembers(byId("members"), members, "host", async (userId) => {
    try {
      await client.kick(uuid, userId, "removed by the host");
    } catch (err) {
      setBanner(byId("banner"), "error", `Could not kick ${userId}: ${describeError(err)}`);
    }
  });
  byId("member-count").textContent = String(members.length);
}
