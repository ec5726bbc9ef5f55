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

/** A round axis maximum at or above `v` that splits into four round steps (1, 2 or 5 times a power of ten each). */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const step = v / 4;
  const p = 10 ** Math.floor(Math.log10(step));
  for (const m of [1, 2, 5, 10]) if (m * p >= step) return 4 * m * p;
  return 40 * p;
}

/** One line of a {@link LineChart}. */
export interface Series {
  label: string;
  color: string;
  /** [time in seconds, value] */
  points: [number, number][];
  /** drawn dashed (the demo dashes subscriptions); default solid */
  dashed?: boolean;
}

/** Options of {@link drawLineChart}. */
export interface LineChartOptions {
  title: string;
  /** the y axis title, e.g. "kbit/s" */
  unit: string;
  /** the x axis title; default "call time (s)" */
  xTitle?: string;
  /** a fixed y range; default: 0 to a round maximum of the data */
  yMin?: number;
  yMax?: number;
  /** seconds of history shown; default 60 */
  windowSeconds?: number;
  format?: (v: number) => string;
}

/** A time step for x labels such that labels of `labelPx` pixels fit `plotPx` pixels of `span` seconds. */
function timeStep(span: number, plotPx: number, labelPx: number): number {
  for (const step of [5, 10, 15, 20, 30, 60, 120]) if ((span / step) * labelPx <= plotPx) return step;
  return 300;
}

/** Draws the x axis: time labels spaced to fit, and the axis title under them. */
function drawTimeAxis(ctx: CanvasRenderingContext2D, o: { x: (t: number) => number; tMin: number; tMax: number; span: number; plotLeft: number; plotRight: number; baseline: number; title: string }): void {
  ctx.fillStyle = AXIS;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const labelPx = Math.max(ctx.measureText(`${Math.round(o.tMax)}s`).width + 14, 34);
  const step = timeStep(o.span, o.plotRight - o.plotLeft, labelPx);
  for (let t = Math.ceil(o.tMin / step) * step; t <= o.tMax + 1e-9; t += step) {
    if (t < 0) continue;
    ctx.fillText(String(t), o.x(t), o.baseline + 5);
  }
  ctx.fillStyle = TEXT;
  ctx.fillText(o.title, (o.plotLeft + o.plotRight) / 2, o.baseline + 20);
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
}

/** Draws a y axis title, rotated, along the left edge. */
function drawYTitle(ctx: CanvasRenderingContext2D, title: string, top: number, bottom: number): void {
  ctx.save();
  ctx.fillStyle = TEXT;
  ctx.translate(12, (top + bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(title, 0, 0);
  ctx.restore();
}

/** Draws `series` as lines over the last `windowSeconds`; returns how many points were drawn. */
export function drawLineChart(canvas: HTMLCanvasElement, series: readonly Series[], o: LineChartOptions): number {
  const { ctx, w, h } = prepare(canvas);
  const pad = { left: 66, right: 14, top: 28, bottom: 40 };
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
  ctx.fillText(o.title, pad.left, 17);
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
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  drawYTitle(ctx, o.unit, pad.top, h - pad.bottom);
  drawTimeAxis(ctx, { x, tMin, tMax, span, plotLeft: pad.left, plotRight: w - pad.right, baseline: h - pad.bottom, title: o.xTitle ?? "call time (s)" });

  let drawn = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left, pad.top - 2, w - pad.left - pad.right, h - pad.top - pad.bottom + 4);
  ctx.clip();
  ctx.lineWidth = 2;
  ctx.lineJoin = "round";
  visible.forEach((points, i) => {
    ctx.strokeStyle = series[i]!.color;
    ctx.setLineDash(series[i]!.dashed ? [6, 4] : []);
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
    // a dot on the newest window: where each line is "now"
    const head = [...points].reverse().find((p) => Number.isFinite(p[1]));
    if (head) {
      ctx.fillStyle = series[i]!.color;
      ctx.beginPath();
      ctx.arc(x(head[0]), y(head[1]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
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

/** Options of {@link drawLaneChart}. */
export interface LaneChartOptions {
  title: string;
  /** a shorter title for narrow canvases; default `title` */
  shortTitle?: string;
  /** the value range each lane zooms within: from max(lo, the data minimum rounded down to 0.5) to max(hi, the data maximum) */
  lo: number;
  hi: number;
  /** the smallest range a lane shows; default 0.5 */
  minSpan?: number;
  windowSeconds?: number;
  format?: (v: number) => string;
}

/**
 * Draws one lane per series, stacked, each with its own zoomed value range (written under its
 * name) and its latest value at the right: lines that would sit on top of each other in one chart
 * (six scores near 4.5) stay apart. Returns how many points were drawn.
 */
export function drawLaneChart(canvas: HTMLCanvasElement, series: readonly Series[], o: LaneChartOptions): number {
  const { ctx, w, h } = prepare(canvas);
  const narrow = w < 560;
  const pad = { left: narrow ? 104 : 160, right: 44, top: 28, bottom: 40 };
  const span = o.windowSeconds ?? 60;
  const tMax = Math.max(span, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const tMin = tMax - span;
  const fmt = o.format ?? ((v: number) => v.toFixed(2));
  const x = (t: number) => pad.left + ((t - tMin) / span) * (w - pad.left - pad.right);
  const laneH = (h - pad.top - pad.bottom) / Math.max(1, series.length);
  ctx.fillStyle = TEXT;
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.fillText(narrow ? (o.shortTitle ?? o.title) : o.title, 10, 18);
  ctx.font = FONT;
  let drawn = 0;
  series.forEach((s, i) => {
    const top = pad.top + i * laneH;
    const points = s.points.filter((p) => p[0] >= tMin && Number.isFinite(p[1]));
    const values = points.map((p) => p[1]);
    const hi = Math.max(o.hi, ...values);
    const lo = Math.max(o.lo, Math.min(hi - (o.minSpan ?? 0.5), Math.floor(Math.min(...values, hi) * 2) / 2));
    const y = (v: number) => top + laneH - 4 - ((v - lo) / (hi - lo)) * (laneH - 8);
    ctx.fillStyle = i % 2 ? "#fafbfc" : "#f1f3f7";
    ctx.fillRect(pad.left, top, w - pad.left - pad.right, laneH);
    const twoLines = laneH >= 34;
    const mid = top + laneH / 2;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 3;
    ctx.setLineDash(s.dashed ? [4, 3] : []);
    ctx.beginPath();
    ctx.moveTo(8, twoLines ? mid - 7 : mid);
    ctx.lineTo(22, twoLines ? mid - 7 : mid);
    ctx.stroke();
    ctx.fillStyle = TEXT;
    ctx.textBaseline = "middle";
    let label = s.label;
    while (label.length > 3 && ctx.measureText(label).width > pad.left - 34) label = `${label.slice(0, -2)}…`;
    ctx.fillText(label, 27, twoLines ? mid - 7 : mid);
    if (twoLines) {
      ctx.fillStyle = AXIS;
      ctx.fillText(`${fmt(lo)} – ${fmt(hi)}`, 27, mid + 8);
    }
    const latest = points[points.length - 1];
    ctx.fillStyle = TEXT;
    if (latest) ctx.fillText(fmt(latest[1]), w - pad.right + 5, Math.min(top + laneH - 7, Math.max(top + 7, y(latest[1]))));
    ctx.textBaseline = "alphabetic";
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.left, top, w - pad.left - pad.right, laneH);
    ctx.clip();
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach(([t, v], k) => (k === 0 ? ctx.moveTo(x(t), y(v)) : ctx.lineTo(x(t), y(v))));
    ctx.stroke();
    if (latest) {
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(x(latest[0]), y(latest[1]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();
    drawn += points.length;
  });
  ctx.setLineDash([]);
  drawTimeAxis(ctx, { x, tMin, tMax, span, plotLeft: pad.left, plotRight: w - pad.right, baseline: h - pad.bottom, title: "call time (s)" });
  if (drawn === 0) {
    ctx.fillStyle = AXIS;
    ctx.textAlign = "center";
    ctx.fillText("waiting for the first window…", (pad.left + w - pad.right) / 2, pad.top + 14);
    ctx.textAlign = "left";
  }
  return drawn;
}

/** One group of bars: a workload with one value per engine. */
export interface BarGroup {
  label: string;
  values: { label: string; value: number; color: string }[];
}

/**
 * Draws grouped horizontal bars, each group scaled to its own maximum, with values and the ratio.
 * Groups whose values are all 0 are drawn as empty outlines with `hint` across them (before a
 * run). On narrow canvases each group's label goes above its bars.
 */
export function drawBarChart(canvas: HTMLCanvasElement, groups: readonly BarGroup[], title: string, format: (v: number) => string, hint = ""): void {
  const { ctx, w, h } = prepare(canvas);
  const narrow = w < 560;
  const pad = { left: narrow ? 12 : 190, right: narrow ? 110 : 150, top: 30, bottom: 8 };
  ctx.fillStyle = TEXT;
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.fillText(title, 12, 18);
  ctx.font = FONT;
  if (groups.length === 0) return;
  const empty = groups.every((g) => g.values.every((v) => v.value === 0));
  const groupH = (h - pad.top - pad.bottom) / groups.length;
  const labelH = narrow ? 16 : 0;
  groups.forEach((g, gi) => {
    const top = pad.top + gi * groupH;
    const max = Math.max(...g.values.map((v) => v.value), 1e-9);
    const barH = Math.min(22, (groupH - 10 - labelH) / g.values.length - 3);
    const barsTop = top + 4 + labelH;
    ctx.fillStyle = TEXT;
    ctx.textBaseline = "middle";
    const [a, b] = g.values;
    const ratio = !empty && a && b && a.value > 0 ? `${b.label}/${a.label} ×${(b.value / a.value).toFixed(2)}` : "";
    if (narrow) {
      ctx.fillText(ratio ? `${g.label} · ${ratio}` : g.label, 12, top + 10);
    } else {
      ctx.fillText(g.label, 12, top + groupH / 2);
      if (ratio) {
        ctx.fillStyle = AXIS;
        ctx.fillText(ratio, 12, top + groupH / 2 + 16);
      }
    }
    g.values.forEach((v, vi) => {
      const by = barsTop + vi * (barH + 3);
      if (empty) {
        ctx.strokeStyle = GRID;
        ctx.setLineDash([4, 3]);
        ctx.strokeRect(pad.left, by, w - pad.left - pad.right, barH);
        ctx.setLineDash([]);
        return;
      }
      const bw = Math.max(2, ((w - pad.left - pad.right) * v.value) / max);
      ctx.fillStyle = v.color;
      ctx.fillRect(pad.left, by, bw, barH);
      ctx.fillStyle = TEXT;
      ctx.fillText(`${v.label}  ${format(v.value)}`, pad.left + bw + 8, by + barH / 2);
    });
  });
  // narrow: the button right above says it; the hint would run into the group labels
  if (empty && !narrow) {
    ctx.fillStyle = AXIS;
    ctx.textAlign = "center";
    ctx.fillText(hint, (pad.left + w - pad.right) / 2, pad.top + groupH - 3);
    ctx.textAlign = "left";
  }
  ctx.textBaseline = "alphabetic";
}
