/**
 * `x-request-id` values: random (version 4) UUIDs, as Envoy generates them. Same format and
 * randomness source as `crypto.randomUUID()`, but written into one buffer and read out as one
 * string: `randomUUID` builds each id from some twenty string concatenations, garbage the
 * gateway would otherwise make on every request.
 */
import { randomFillSync } from 'node:crypto';

const IDS_PER_FILL = 256;
const pool = Buffer.alloc(16 * IDS_PER_FILL);
let used = pool.length;
const text = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** A new random UUID (RFC 9562 version 4), lower-case with dashes. */
export function newRequestId(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const o = used;
  used += 16;
  pool[o + 6] = (pool[o + 6] & 0x0f) | 0x40; // version 4
  pool[o + 8] = (pool[o + 8] & 0x3f) | 0x80; // variant 10
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[j++] = 0x2d; // -
    const v = pool[o + i];
    text[j++] = HEX[v >> 4];
    text[j++] = HEX[v & 15];
  }
  return text.toString('latin1', 0, 36);
}
