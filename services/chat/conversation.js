// @ts-check
/**
 * conversation.js — the chat room's shared pieces: the app-level message names, limits, and the
 * rendering of one conversation entry. Entries are rendered with textContent only: a name or a
 * message like `<img src=x onerror=…>` shows as those characters, never as markup.
 *
 * Entries (kept by the host, sent to newcomers): `{ id, at, kind, userId, text?, reason? }` with
 * kind "message" | "join" | "leave" | "kick" | "disconnect". See docs/services.md.
 *
 * @module
 */
import { el, formatTime } from "../../static/wstun_page.js";

/** Longest message a host accepts, in characters. */
export const MAX_TEXT = 4000;
/** Entries the host keeps and sends to a newcomer. */
export const MAX_HISTORY = 500;

/** @typedef {{ id: number, at: number, kind: string, userId: string, text?: string, reason?: string }} Entry */

/** @param {string} userId */
export function displayName(userId) {
  return userId === "host" ? "Host" : userId;
}

/**
 * @param {Entry} entry
 * @param {string} self the viewer's own userId ("host" on the host page)
 */
export function renderEntry(entry, self) {
  const who = displayName(entry.userId);
  if (entry.kind === "message") {
    return el(
      "li",
      { className: entry.userId === self ? "mine" : "", attrs: { "data-kind": "message" } },
      el("time", { text: formatTime(entry.at) }),
      el("span", { className: "author", text: who }),
      el("span", { className: "text", text: entry.text ?? "" }),
    );
  }
  const what = {
    join: `${who} joined`,
    leave: `${who} left`,
    disconnect: `${who} lost their connection`,
    kick: `${who} was removed by the host${entry.reason ? ` (${entry.reason})` : ""}`,
  }[entry.kind] ?? `${who}: ${entry.kind}`;
  return el("li", { className: "event", attrs: { "data-kind": entry.kind }, text: what });
}

/**
 * Appends entries to a conversation list and keeps it scrolled to the end when it was there.
 * @param {HTMLElement} list
 * @param {Entry[]} entries
 * @param {string} self
 */
export function appendEntries(list, entries, self) {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  for (const entry of entries) list.append(renderEntry(entry, self));
  while (list.children.length > MAX_HISTORY) list.firstElementChild?.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
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
