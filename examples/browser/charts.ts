/**
 * Plain <canvas> charts for the demo: a multi-series line chart over time and a grouped bar chart.
 */

/** Series colours, one per track (Tableau 10). */
export const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

const AXIS = "#9aa3b2";
const GRID = "#e6e9ef";
const TEXT = "#3b4252";
const FONT = "12px system-ui, sans-serif";

/** Sizes the canvas backing store for the device pixel ratio; returns a context in CSS pixels. */
function prepare(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = FONT;
  return { ctx, w, h };
}

/** A round axis maximum at or above `v`: 1, 2 or 5 times a power of ten. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One line of a {@link LineChart}. */
export interface Series {
  label: string;
  color: string;
  /** [time in seconds, value] */
  points: [number, number][];
}

/** Options of {@link drawLineChart}. */
export interface LineChartOptions {
  title: string;
  unit: string;
  /** a fixed y range; default: 0 to a round maximum of the data */
  yMin?: number;
  yMax?: number;
  /** seconds of history shown; default 60 */
  windowSeconds?: number;
  format?: (v: number) => string;
}

/** Draws `series` as lines over the last `windowSeconds`; returns how many points were drawn. */
export function drawLineChart(canvas: HTMLCanvasElement, series: readonly Series[], o: LineChartOptions): number {
  const { ctx, w, h } = prepare(canvas);
  const pad = { left: 58, right: 14, top: 28, bottom: 26 };
  const span = o.windowSeconds ?? 60;
  const tMax = Math.max(span, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const tMin = tMax - span;
  const visible = series.map((s) => s.points.filter((p) => p[0] >= tMin));
  const values = visible.flatMap((ps) => ps.map((p) => p[1])).filter(Number.isFinite);
  const yMin = o.yMin ?? 0;
  const yMax = o.yMax ?? niceMax(Math.max(...values, 0) * 1.1);
  const fmt = o.format ?? ((v: number) => String(Math.round(v * 100) / 100));
  const x = (t: number) => pad.left + ((t - tMin) / span) * (w - pad.left - pad.right);
  const y = (v: number) => h - pad.bottom - ((v - yMin) / (yMax - yMin || 1)) * (h - pad.top - pad.bottom);

  ctx.fillStyle = TEXT;
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.fillText(`${o.title} (${o.unit})`, pad.left, 17);
  ctx.font = FONT;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    ctx.strokeStyle = GRID;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(w - pad.right, y(v));
    ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.fillText(fmt(v), pad.left - 6, y(v));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let t = Math.ceil(tMin / 10) * 10; t <= tMax; t += 10) {
    if (t < 0) continue;
    ctx.fillText(`${t}s`, x(t), h - pad.bottom + 6);
  }
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";

  let drawn = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left, pad.top - 2, w - pad.left - pad.right, h - pad.top - pad.bottom + 4);
  ctx.clip();
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  visible.forEach((points, i) => {
    ctx.strokeStyle = series[i]!.color;
    ctx.beginPath();
    let pen = false;
    for (const [t, v] of points) {
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(x(t), y(v));
      else ctx.moveTo(x(t), y(v));
      pen = true;
      drawn++;
    }
    ctx.stroke();
  });
  ctx.restore();
  if (drawn === 0) {
    ctx.fillStyle = AXIS;
    ctx.textAlign = "center";
    ctx.fillText("waiting for the first window…", w / 2, h / 2);
    ctx.textAlign = "left";
  }
  return drawn;
}

/** One group of bars: a workload with one value per engine. */
export interface BarGroup {
  label: string;
  values: { label: string; value: number; color: string }[];
}

/** Draws grouped horizontal bars, each group scaled to its own maximum, with values and the ratio. */
export function drawBarChart(canvas: HTMLCanvasElement, groups: readonly BarGroup[], title: string, format: (v: number) => string): void {
  const { ctx, w, h } = prepare(canvas);
  const pad = { left: 190, right: 150, top: 30, bottom: 8 };
  ctx.fillStyle = TEXT;
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.fillText(title, 12, 18);
  ctx.font = FONT;
  if (groups.length === 0) return;
  const groupH = (h - pad.top - pad.bottom) / groups.length;
  groups.forEach((g, gi) => {
    const top = pad.top + gi * groupH;
    const max = Math.max(...g.values.map((v) => v.value), 1e-9);
    const barH = Math.min(22, (groupH - 14) / g.values.length);
    ctx.fillStyle = TEXT;
    ctx.textBaseline = "middle";
    ctx.fillText(g.label, 12, top + groupH / 2);
    g.values.forEach((v, vi) => {
      const by = top + 6 + vi * (barH + 3);
      const bw = Math.max(2, ((w - pad.left - pad.right) * v.value) / max);
      ctx.fillStyle = v.color;
      ctx.fillRect(pad.left, by, bw, barH);
      ctx.fillStyle = TEXT;
      ctx.fillText(`${v.label}  ${format(v.value)}`, pad.left + bw + 8, by + barH / 2);
    });
    const [a, b] = g.values;
    if (a && b && a.value > 0) {
      ctx.fillStyle = AXIS;
      ctx.fillText(`${b.label}/${a.label} ×${(b.value / a.value).toFixed(2)}`, 12, top + groupH / 2 + 16);
    }
  });
  ctx.textBaseline = "alphabetic";
}
