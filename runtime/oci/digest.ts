/** sha256 digests in the OCI `algorithm:hex` form. */
import { createHash } from 'node:crypto';
import { DigestMismatchError, OciError } from './errors.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** `sha256:<hex>` of `data`. */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** True for a well-formed `sha256:<64 hex>` digest (the only algorithm we accept). */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** Throws unless `value` is a well-formed sha256 digest; returns it. */
export function checkDigest(value: string, where = 'digest'): string {
  if (!isDigest(value)) throw new OciError('HP_OCI_INVALID_DIGEST', `${where}: "${value}" is not a sha256 digest (sha256:<64 hex digits>)`);
  return value;
}

/** Hex part of a digest (`sha256:ab…` → `ab…`). */
export function digestHex(digest: string): string {
  return checkDigest(digest).slice(7);
}

/** Normalises a user-given pin: accepts `sha256:<hex>` or bare `<hex>`, any case. */
export function normalizeDigest(value: string): string {
  const v = value.trim().toLowerCase();
  return checkDigest(v.startsWith('sha256:') ? v : `sha256:${v}`, 'sha256 pin');
}

/** Throws {@link DigestMismatchError} unless `data` has `digest` (and `size`, when given). */
export function verifyContent(data: Uint8Array, digest: string, size: number | undefined, where: string): void {
  if (size !== undefined && data.byteLength !== size) {
    throw new DigestMismatchError(`${digest} (${size} bytes)`, `${sha256Digest(data)} (${data.byteLength} bytes)`, where);
  }
  const actual = sha256Digest(data);
  if (actual !== digest) throw new DigestMismatchError(digest, actual, where);
}
