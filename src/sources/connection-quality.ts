/**
 * LiveKit's connection-quality score: a simplified E-model over each window's packet loss, round
 * trip time and jitter, smoothed across windows and mapped to a MOS between 1 and 4.5.
 *
 * Ported from livekit/livekit `pkg/sfu/connectionquality/scorer.go` and `connectionstats.go`
 * (`getPacketLossWeight`) at commit 9a7fe3cc689febe6f0e0558b90a04444c14cc4bf, the last change to
 * scorer.go in the snapshot read (HEAD 788d4c354474383956067e3a22ffba88dd4803e4). Left out,
 * because a getStats() observer has no such signal: mute, pause and layer-mute transitions, the
 * expected-bitrate and layer-distance scores (both read 100 there when unused, as here).
 */

/** Highest MOS (`MaxMOS`). */
export const MAX_MOS = 4.5;
/** Lowest MOS (`MinMOS`). */
export const MIN_MOS = 1;

const MAX_SCORE = 100;
const MIN_SCORE = 30;
const INCREASE_FACTOR = 0.4;
const DECREASE_FACTOR = 0.8;
// scores a window with no packets gets: POOR, or LOST when RTCP also went silent
const POOR_SCORE = 40;
const LOST_SCORE = 20;
const PPS_QUANTIZATION = 2;
const PPS_MIN_READINGS = 10;
const PPS_HISTOGRAM_BINS = 250;
const MODE_CALCULATION_INTERVAL_MS = 120_000;

/** One window of one track, in LiveKit's units (`windowStat`). */
export interface QualityWindow {
  /** window length in milliseconds; 0 or less when unknown (the loss weight is then not adjusted) */
  durationMs: number;
  /** media packets in the window */
  packets: number;
  /** padding-only packets in the window; default 0 */
  packetsPadding?: number;
  /** packets lost in the window */
  packetsLost: number;
  /** highest round trip time seen in the window, in milliseconds; default 0 */
  rttMaxMs?: number;
  /** highest jitter seen in the window, in microseconds; default 0 */
  jitterMaxUs?: number;
  /** the window saw no packets and no RTCP for longer than the window: LOST instead of POOR; default false */
  rtcpStale?: boolean;
}

/**
 * How much a lost packet costs, by codec (`getPacketLossWeight`): Opus 8 (5.33 with in-band FEC),
 * RED 4 (2.67 with FEC), any video codec 10, anything else 0 (loss then does not lower the score).
 * `mimeType` is case-insensitive, e.g. "audio/opus", "video/VP8".
 */
export function packetLossWeight(mimeType: string, fecEnabled: boolean): number {
  const mime = mimeType.toLowerCase();
  if (mime === "audio/opus") return fecEnabled ? 8 / 1.5 : 8;
  if (mime === "audio/red") return fecEnabled ? 4 / 1.5 : 4;
  if (mime.startsWith("video/")) return 10;
  return 0;
}

/**
 * The packet score of one window, 0 to 100 (`calculatePacketScore`): 100 minus the delay effect
 * (effective delay = rtt/2 + 2 x jitter in ms; /40, or (d - 120)/10 above 160 ms) minus the loss
 * effect (lost percent x the loss weight).
 */
export function packetScore(w: QualityWindow, lossWeight: number, includeRtt: boolean, includeJitter: boolean): number {
  let effectiveDelay = 0;
  if (includeRtt) effectiveDelay += (w.rttMaxMs ?? 0) / 2;
  if (includeJitter) effectiveDelay += ((w.jitterMaxUs ?? 0) * 2) / 1000;
  const delayEffect = effectiveDelay > 160 ? (effectiveDelay - 120) / 10 : effectiveDelay / 40;
  // packetsMissing and packetsOutOfOrder, which LiveKit subtracts from the loss, are not in
  // getStats(): they count as 0
  const actualLost = Math.max(0, w.packetsLost);
  const total = w.packets + (w.packetsPadding ?? 0);
  const lossEffect = total > 0 ? ((actualLost * 100) / total) * lossWeight : 0;
  return Math.max(0, MAX_SCORE - delayEffect - lossEffect);
}

/** The MOS of a 0-100 score (`scoreToMOS`): 1 + 0.035 s + 7e-6 s (s - 60)(100 - s), as float32. */
export function scoreToMos(score: number): number {
  if (score <= 0) return MIN_MOS;
  if (score >= MAX_SCORE) return MAX_MOS;
  return Math.fround(1 + 0.035 * score + 0.000007 * score * (score - 60) * (100 - score));
}

/** Options of {@link QualityScorer}. */
export interface QualityScorerOptions {
  /** the loss weight, see {@link packetLossWeight}; required */
  packetLossWeight: number;
  /** let the round trip time lower the score; default true (LiveKit's server passes false: it cannot measure upstream rtt without RTCP XR) */
  includeRtt?: boolean;
  /** let jitter lower the score; default true (LiveKit's server passes false) */
  includeJitter?: boolean;
}

/**
 * The per-track scorer (`qualityScorer`): starts at 100, moves towards each window's packet score
 * (by 0.4 when rising, 0.8 when falling), never below 30 for windows with packets; a window without
 * packets scores 40 (20 when RTCP went stale) at once. The loss weight is scaled down by
 * sqrt(packet rate / most common packet rate) so that DTX audio and static screen shares are not
 * punished for losing a few of their few packets.
 */
export class QualityScorer {
  private readonly includeRtt: boolean;
  private readonly includeJitter: boolean;
  private lossWeight: number;
  private value = MAX_SCORE;
  private readonly ppsHistogram = new Uint32Array(PPS_HISTOGRAM_BINS);
  private ppsReadings = 0;
  private ppsMode = 0;
  private modeCalculatedAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: QualityScorerOptions) {
    this.lossWeight = options.packetLossWeight;
    this.includeRtt = options.includeRtt ?? true;
    this.includeJitter = options.includeJitter ?? true;
  }

  /** The current score, 0 to 100. */
  get score(): number {
    return this.value;
  }

  /** The current MOS, 1 to 4.5 (float32). */
  get mos(): number {
    return scoreToMos(this.value);
  }

  /** Changes the loss weight (a codec change). */
  setPacketLossWeight(weight: number): void {
    this.lossWeight = weight;
  }

  /** Scores one window ending at `atMs` (milliseconds, any epoch) and returns the new MOS. */
  update(w: QualityWindow, atMs: number): number {
    const packets = w.packets + (w.packetsPadding ?? 0);
    if (packets === 0) {
      this.value = w.rtcpStale ? LOST_SCORE : POOR_SCORE;
      return this.mos;
    }
    const aplw = this.adjustedLossWeight(w, atMs);
    const score = packetScore(w, aplw, this.includeRtt, this.includeJitter);
    const factor = score < this.value ? DECREASE_FACTOR : INCREASE_FACTOR;
    this.value = Math.max(MIN_SCORE, factor * score + (1 - factor) * this.value);
    return this.mos;
  }

  // getAdjustedPacketLossWeight
  private adjustedLossWeight(w: QualityWindow, atMs: number): number {
    if (!(w.durationMs > 0)) return this.lossWeight;
    const pps = w.packets / (w.durationMs / 1000);
    const bin = Math.trunc(pps / PPS_QUANTIZATION + 0.5);
    this.ppsHistogram[Math.min(bin, PPS_HISTOGRAM_BINS - 1)]!++;
    this.ppsReadings++;
    if (this.ppsReadings > PPS_MIN_READINGS && atMs - this.modeCalculatedAtMs > MODE_CALCULATION_INTERVAL_MS) {
      // LiveKit parity: the loop compares each bin's count with the index found so far (not with
      // the best count), so the "mode" is the last bin whose count exceeds the previous pick's index
      this.ppsMode = 0;
      for (let i = 0; i < PPS_HISTOGRAM_BINS; i++) if (this.ppsHistogram[i]! > this.ppsMode) this.ppsMode = i;
      this.modeCalculatedAtMs = atMs;
    }
    if (this.ppsMode === 0 || this.ppsMode === PPS_HISTOGRAM_BINS - 1) return this.lossWeight;
    const ratio = Math.min(1, pps / (this.ppsMode * PPS_QUANTIZATION));
    return Math.sqrt(ratio) * this.lossWeight;
  }
}
