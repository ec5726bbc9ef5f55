/**
 * What the windows of a stream must add up to, worked out straight from a cumulative getStats()
 * report by the mapping of docs/rtc-stats.md (written out again here, independently of the
 * collector). Shared by the fixture tests and the Chromium call test.
 */
import type { AnalyticsStat } from "../../src/index.ts";

/** The additive AnalyticsStream counters of one stream, as plain numbers. */
export interface StreamTotals {
  primaryPackets: number;
  primaryBytes: number;
  retransmitPackets: number;
  retransmitBytes: number;
  frames: number;
  nacks: number;
  plis: number;
  firs: number;
}

type Dict = Record<string, unknown>;
const n = (d: Dict, k: string): number => (typeof d[k] === "number" ? (d[k] as number) : 0);

/** `direction/ssrc` -> totals, for every outbound-rtp and inbound-rtp of `report`. */
export function cumulativeTotals(report: readonly object[]): Map<string, StreamTotals> {
  const out = new Map<string, StreamTotals>();
  for (const o of report) {
    const d = o as Dict;
    if (d["type"] === "outbound-rtp") {
      out.set(`up/${String(d["ssrc"])}`, {
        primaryPackets: n(d, "packetsSent") - n(d, "retransmittedPacketsSent"),
        primaryBytes: n(d, "bytesSent") - n(d, "retransmittedBytesSent") + n(d, "headerBytesSent"),
        retransmitPackets: n(d, "retransmittedPacketsSent"),
        retransmitBytes: n(d, "retransmittedBytesSent"),
        frames: d["kind"] === "video" ? n(d, "framesSent") : 0,
        nacks: n(d, "nackCount"),
        plis: n(d, "pliCount"),
        firs: n(d, "firCount"),
      });
    } else if (d["type"] === "inbound-rtp") {
      out.set(`down/${String(d["ssrc"])}`, {
        primaryPackets: n(d, "packetsReceived"),
        primaryBytes: n(d, "bytesReceived") + n(d, "headerBytesReceived"),
        retransmitPackets: n(d, "retransmittedPacketsReceived"),
        retransmitBytes: n(d, "retransmittedBytesReceived"),
        frames: d["kind"] === "video" ? n(d, "framesReceived") : 0,
        nacks: n(d, "nackCount"),
        plis: n(d, "pliCount"),
        firs: n(d, "firCount"),
      });
    }
  }
  return out;
}

// the raw counters whose going backwards means a new run of the stream
const RAW = ["packetsSent", "packetsReceived", "bytesSent", "bytesReceived", "headerBytesSent", "headerBytesReceived", "retransmittedPacketsSent",
  "retransmittedPacketsReceived", "retransmittedBytesSent", "retransmittedBytesReceived", "framesSent", "framesReceived", "nackCount", "pliCount", "firCount"];

/**
 * What the windows of each stream add up to over a series of cumulative reports, when streams may
 * restart (a counter going backwards) or vanish and come back (counting from their start again):
 * the sum, over the stream's runs, of each run's last cumulative counters. Also how many runs.
 */
export function cumulativeOverRuns(reports: readonly (readonly object[])[]): { totals: Map<string, StreamTotals>; runs: Map<string, number> } {
  let totals = new Map<string, StreamTotals>();
  const runs = new Map<string, number>();
  let open = new Map<string, { raw: Dict; totals: StreamTotals }>();
  for (const report of reports) {
    const now = new Map<string, { raw: Dict; totals: StreamTotals }>();
    const cumulative = cumulativeTotals(report);
    for (const o of report) {
      const d = o as Dict;
      if (d["type"] !== "outbound-rtp" && d["type"] !== "inbound-rtp") continue;
      const key = `${d["type"] === "outbound-rtp" ? "up" : "down"}/${String(d["ssrc"])}`;
      const t = cumulative.get(key)!;
      const prev = open.get(key);
      if (prev === undefined || RAW.some((f) => n(d, f) < n(prev.raw, f))) {
        if (prev !== undefined) totals = addTotals(totals, new Map([[key, prev.totals]]));
        runs.set(key, (runs.get(key) ?? 0) + 1);
      }
      now.set(key, { raw: d, totals: t });
    }
    // streams missing from this report are forgotten: their run ends
    for (const [key, prev] of open) if (!now.has(key)) totals = addTotals(totals, new Map([[key, prev.totals]]));
    open = now;
  }
  for (const [key, prev] of open) totals = addTotals(totals, new Map([[key, prev.totals]]));
  return { totals, runs };
}

/** Adds `b` into `a` per key. */
export function addTotals(a: Map<string, StreamTotals>, b: Map<string, StreamTotals>): Map<string, StreamTotals> {
  const out = new Map(a);
  for (const [k, t] of b) {
    const s = out.get(k);
    out.set(k, s === undefined ? { ...t } : (Object.fromEntries(Object.entries(s).map(([f, v]) => [f, v + t[f as keyof StreamTotals]])) as unknown as StreamTotals));
  }
  return out;
}

/** Sums the streams of collected stats per `direction/ssrc` (direction from the stat's kind: 0 up, 1 down). */
export function sumWindows(stats: readonly AnalyticsStat[]): Map<string, StreamTotals> {
  const out = new Map<string, StreamTotals>();
  for (const s of stats) {
    for (const st of s.streams) {
      const t: StreamTotals = {
        primaryPackets: st.primaryPackets,
        primaryBytes: Number(st.primaryBytes),
        retransmitPackets: st.retransmitPackets,
        retransmitBytes: Number(st.retransmitBytes),
        frames: st.frames,
        nacks: st.nacks,
        plis: st.plis,
        firs: st.firs,
      };
      const key = `${s.kind === 1 ? "down" : "up"}/${st.ssrc}`;
      const prev = out.get(key);
      out.set(key, prev === undefined ? t : addTotals(new Map([[key, prev]]), new Map([[key, t]])).get(key)!);
    }
  }
  return out;
}
