// Poll member page: joins the poll named by ?uuid=, shows the options and the live counts, and
// sends `vote` {option} to the host when clicked. A member may change their vote.
import { WSTunClient } from "/libwstun.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const uuid = params.get("uuid");
const serverToken = params.get("token") ?? undefined;
let client;
let mine;

function render(poll) {
  $("question").textContent = poll.question;
  const total = Math.max(1, poll.voters);
  $("options").replaceChildren(...poll.options.map((option, i) => {
    const li = document.createElement("li");
    if (i === mine) li.className = "mine";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * poll.counts[i]) / total}%`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "label";
    const text = document.createElement("span");
    text.textContent = option;
    const count = document.createElement("span");
    count.textContent = String(poll.counts[i]);
    button.append(text, count);
    button.addEventListener("click", () => {
      mine = i;
      client.send(uuid, "vote", { option: i });
    });
    li.append(bar, button);
    return li;
  }));
  $("status").textContent = mine === undefined ? "Pick one." : "Thanks! You can change your vote.";
}

function join(password) {
  // Resolves with the ack; a refused join rejects with a WSTunError whose `code` says why.
  return client.joinInstance({ uuid, token: password || undefined });
}

async function start() {
  if (!uuid) {
    $("question").textContent = "No poll here: open the link the host shared.";
    return;
  }
  client = new WSTunClient({ url: wsUrl(), token: serverToken });
  client.on("poll", render);
  client.on("instance_closed", () => {
    $("status").textContent = "The poll is closed.";
    for (const button of document.querySelectorAll("button")) button.disabled = true;
  });
  client.on("host_away", () => ($("status").textContent = "The host is reconnecting…"));
  await client.connect();
  try {
    await join();
  } catch (e) {
    if (e.code !== "unauthorized") throw e;
    $("question").textContent = "This poll needs a password.";
    $("join").hidden = false;
    $("join").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await join($("password").value);
        $("join").hidden = true;
      } catch (e2) {
        $("status").textContent = `Could not join: ${e2.message ?? e2}`;
      }
    });
  }
}

function wsUrl() {
  const url = new URL("/_ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  return url.href;
}

start().catch((e) => ($("status").textContent = `Could not connect: ${e.message ?? e}`));
