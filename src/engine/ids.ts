/**
 * The bytes ids are keyed by, shared by both engines: the wasm engine stores them, and both count
 * them against a worker's id-bytes bound.
 *
 * @module
 */

/**
 * The key bytes of an id: UTF-8, except that an unpaired surrogate is written as its own 3-byte
 * sequence (WTF-8). Keys are then as distinct as JS strings are, the ts engine's map keys, and
 * a well-formed id (the only kind a decoded batch can carry) has its plain UTF-8 bytes.
 */
export function encodeWtf8(text: string): { bytes: Uint8Array; wellFormed: boolean } {
  const out: number[] = [];
  let wellFormed = true;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) wellFormed = false;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return { bytes: Uint8Array.from(out), wellFormed };
}

/** The length of {@link encodeWtf8}'s bytes for `text`, without making them. */
export function wtf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
