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
import { displayName } from "../../static/member_list.js";

/** Longest message a host accepts, in characters. */
export const MAX_TEXT = 4000;
/** Entries the host keeps and sends to a newcomer. */
export const MAX_HISTORY = 500;

/** @typedef {{ id: number, at: number, kind: string, userId: string, text?: string, reason?: string }} Entry */

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
 * Adds entries to a conversation list in the order of their ids (the host numbers them) and keeps
 * it scrolled to the end when it was there. An entry it already shows is skipped, and one older
 * than the newest shown goes in its place: after a reconnect or a server restart, entries sent
 * live can arrive before the history the host sends again, and the history then fills the gap
 * instead of being dropped as old. Entries without an id are appended.
 * @param {HTMLElement} list
 * @param {Entry[]} entries
 * @param {string} self
 */
export function appendEntries(list, entries, self) {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  for (const entry of entries) {
    if (typeof entry.id !== "number") {
      list.append(renderEntry(entry, self));
      continue;
    }
    const later = firstLaterThan(list, entry.id);
    if (later === "shown") continue;
    const line = renderEntry(entry, self);
    line.dataset.id = String(entry.id);
    list.insertBefore(line, later);
  }
  while (list.children.length > MAX_HISTORY) list.firstElementChild?.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

/**
 * The first line whose id is above `id` (null: none, append), or "shown" when a line has `id`.
 * Searched from the end: live entries are the newest, history mostly already shown.
 * @param {HTMLElement} list
 * @param {number} id
 * @returns {Element | null | "shown"}
 */
function firstLaterThan(list, id) {
  let later = null;
  for (let line = list.lastElementChild; line; line = line.previousElementSibling) {
    const shown = /** @type {HTMLElement} */ (line).dataset.id;
    if (shown === undefined) continue;
    if (Number(shown) === id) return "shown";
    if (Number(shown) < id) break;
    later = line;
  }
  return later;
}
