/**
 * The layout of one stream entry, shared by the writer and the reader: a single field, `stats`,
 * holding one encoded `livekit.AnalyticsStats` message.
 *
 * @module
 */

/** Name of the entry field holding the encoded `AnalyticsStats` batch. */
export const STATS_FIELD = "stats";
