// Whiteboard member: draws locally, sends each finished `stroke` to the host, and paints what the
// host relays (`board` on joining, then `stroke` and `clear`).
import { WSTunClient } from "/libwstun.js";
import { colorPicker, createBoard, validStroke, wsUrl } from "./board.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const uuid = params.get("uuid");
const client = new WSTunClient({ url: wsUrl(), token: params.get("token") ?? undefined });

const board = createBoard($("board"), (stroke) => client.send(uuid, "stroke", stroke));
colorPicker($("colors"), (color) => board.setColor(color));

client.on("board", (msg) => board.replace((msg.strokes ?? []).filter(validStroke)));
client.on("stroke", (msg) => {
  const stroke = { color: msg.color, width: msg.width, points: msg.points };
  if (validStroke(stroke)) board.add(stroke);
});
client.on("clear", () => board.clear());
client.on("instance_closed", () => ($("status").textContent = "The host closed the board."));
client.on("host_away", () => ($("status").textContent = "The host is reconnecting…"));
client.on("host_back", () => ($("status").textContent = ""));

if (!uuid) {
  $("status").textContent = "No board here: open the link the host shared.";
} else {
  try {
    await client.connect();
    await client.joinInstance({ uuid });
    $("status").textContent = "Connected: draw!";
  } catch (e) {
    $("status").textContent = `Could not join: ${e.message ?? e}`;
  }
}
