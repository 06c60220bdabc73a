// The drawing surface shared by the host and member pages: renders strokes on a canvas and turns
// pointer input into strokes. Coordinates are kept in 0..1 so boards match at any window size.

export const COLORS = ["#1d2330", "#d1343b", "#2f7d32", "#2563eb", "#e69b00"];
export const MAX_POINTS = 500;

/**
 * @param {HTMLCanvasElement} canvas
 * @param {(stroke: {color: string, width: number, points: number[]}) => void} onStroke
 */
export function createBoard(canvas, onStroke) {
  const ctx = canvas.getContext("2d");
  /** @type {{color: string, width: number, points: number[]}[]} */
  let strokes = [];
  let current = null;
  let color = COLORS[0];

  function resize() {
    const ratio = globalThis.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * ratio);
    canvas.height = Math.round(canvas.clientHeight * ratio);
    redraw();
  }

  function draw(stroke) {
    const { points } = stroke;
    if (points.length < 2) return;
    ctx.strokeStyle = stroke.color;
    ctx.lineWidth = stroke.width * (globalThis.devicePixelRatio || 1);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(points[0] * canvas.width, points[1] * canvas.height);
    for (let i = 2; i + 1 < points.length; i += 2) {
      ctx.lineTo(points[i] * canvas.width, points[i + 1] * canvas.height);
    }
    ctx.stroke();
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const stroke of strokes) draw(stroke);
    if (current) draw(current);
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    const y = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
  }

  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    current = { color, width: 3, points: point(event) };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current || current.points.length >= MAX_POINTS * 2) return;
    current.points.push(...point(event));
    redraw();
  });
  const finish = () => {
    if (!current) return;
    const stroke = current;
    current = null;
    if (stroke.points.length >= 4) {
      strokes.push(stroke);
      onStroke(stroke);
    }
    redraw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  globalThis.addEventListener("resize", resize);
  resize();

  return {
    setColor(value) {
      color = value;
    },
    add(stroke) {
      strokes.push(stroke);
      draw(stroke);
    },
    replace(all) {
      strokes = all;
      redraw();
    },
    clear() {
      strokes = [];
      redraw();
    },
  };
}

/** Whether a stroke from the network is well-formed (never trust what others send). */
export function validStroke(stroke) {
  return stroke && COLORS.includes(stroke.color) && typeof stroke.width === "number" &&
    stroke.width > 0 && stroke.width <= 20 && Array.isArray(stroke.points) &&
    stroke.points.length >= 4 && stroke.points.length <= MAX_POINTS * 2 &&
    stroke.points.every((n) => typeof n === "number" && n >= 0 && n <= 1);
}

/** Builds the colour buttons into `container`; `onPick` gets the colour. */
export function colorPicker(container, onPick) {
  const buttons = COLORS.map((value) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "swatch";
    button.style.background = value;
    button.title = value;
    button.addEventListener("click", () => {
      for (const b of buttons) b.classList.toggle("picked", b === button);
      onPick(value);
    });
    return button;
  });
  buttons[0].classList.add("picked");
  container.replaceChildren(...buttons);
}

export function wsUrl() {
  const url = new URL("/_ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  return url.href;
}
