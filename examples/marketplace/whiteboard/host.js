// Whiteboard host: owns the board. Members send `stroke`; the host validates it, keeps it and
// relays it to everyone else; a newcomer gets the whole `board`. The host can clear the board.
import { WSTunClient } from "/libwstun.js";
import { colorPicker, createBoard, validStroke, wsUrl } from "./board.js";

const MAX_STROKES = 5000;
const $ = (id) => document.getElementById(id);
const serverToken = new URLSearchParams(location.search).get("token") ?? undefined;
const client = new WSTunClient({ url: wsUrl(), token: serverToken });
let uuid;
const members = new Set();

const board = createBoard($("board"), (stroke) => {
  remember(stroke);
  if (uuid) client.send(uuid, "stroke", stroke);
});
colorPicker($("colors"), (color) => board.setColor(color));
const strokes = [];

function remember(stroke) {
  strokes.push(stroke);
  if (strokes.length > MAX_STROKES) strokes.shift();
}

function showMembers() {
  $("members").textContent = String(members.size);
}

client.on("client_connected", (msg) => {
  members.add(msg.userId);
  client.send(uuid, "board", { strokes }, { to: msg.userId });
  showMembers();
});
client.on("client_disconnected", (msg) => {
  members.delete(msg.userId);
  showMembers();
});
client.on("stroke", (msg) => {
  const stroke = { color: msg.color, width: msg.width, points: msg.points };
  if (!validStroke(stroke)) return;
  remember(stroke);
  board.add(stroke);
  const others = [...members].filter((m) => m !== msg.from);
  if (others.length) client.send(uuid, "stroke", stroke, { to: others });
});

$("clear").addEventListener("click", () => {
  strokes.length = 0;
  board.clear();
  client.send(uuid, "clear");
});

try {
  await client.connect();
  const created = await client.createInstance({ service: "whiteboard", name: "Whiteboard" });
  uuid = created.uuid;
  const link = new URL("main", location.href);
  link.search = "";
  link.searchParams.set("uuid", uuid);
  if (serverToken) link.searchParams.set("token", serverToken);
  $("link").href = link.href;
  $("link").textContent = link.href;
  $("status").textContent = "Draw; everyone with the link draws with you.";
} catch (e) {
  $("status").textContent = `Could not start: ${e.message ?? e}`;
}
