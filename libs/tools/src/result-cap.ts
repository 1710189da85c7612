/** Text cut to a byte budget; `bytes` is the UTF-8 length of `text`. */
export interface CappedText {
  readonly text: string;
  readonly truncated: boolean;
  readonly bytes: number;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function capText(text: string, maxBytes: number): CappedText {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= maxBytes) return { text, truncated: false, bytes: encoded.length };
  return capBytes(encoded, maxBytes, true);
}

/** Decodes at most `maxBytes` of `bytes` as UTF-8, dropping a character cut in half at the end. */
export function capBytes(
  bytes: Uint8Array,
  maxBytes: number,
  truncated = bytes.length > maxBytes,
): CappedText {
  let end = Math.min(bytes.length, maxBytes);
  // Back off over UTF-8 continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  if (end < bytes.length) while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
  return { text, truncated, bytes: end };
}

/**
 * Reads a byte stream until it ends or `maxBytes` + 1 bytes have arrived, then cancels it, so an
 * endless or huge body costs at most one chunk beyond the cap.
 */
export async function readCapped(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<CappedText> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } finally {
    if (total > maxBytes) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return capBytes(Buffer.concat(chunks), maxBytes);
}
