/**
 * Typed errors of the OCI client. Every error has a stable `code` (`HP_OCI_*`) and keeps the
 * error that caused it in `cause`, so a caller can branch on the code and a user sees the chain.
 */

// `scheme://user:pass@host`: the userinfo part of any URL written in a message.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]*@/gi;

/**
 * Replaces the userinfo (`user:password@`) of every URL in `text` with `***@`, so a password
 * written into a plugin URL is never repeated in an error, a log line or the admin API.
 */
export function redactUserinfo(text: string): string {
  return text.replace(USERINFO, '$1***@');
}

/** Base class of every error thrown by `runtime/oci`. Its message never repeats URL credentials. */
export class OciError extends Error {
  /** Stable machine-readable code, e.g. `HP_OCI_DIGEST_MISMATCH`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(redactUserinfo(message), options);
    this.name = 'OciError';
    this.code = code;
  }
}

/** One entry of a registry error body (`{"errors":[{code,message,detail}]}`, distribution-spec "Error Codes"). */
export interface RegistryErrorEntry {
  /** Registry error code, e.g. `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, `UNAUTHORIZED`, `DENIED`. */
  code: string;
  message?: string;
  detail?: unknown;
}

/**
 * A non-success answer from a registry, parsed like oras-go's `errcode.ErrorResponse`: the
 * request method and URL, the HTTP status and the `errors[]` the registry sent (empty when the
 * body was not the standard JSON).
 */
export class ErrorResponse extends OciError {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly errors: RegistryErrorEntry[];
  constructor(method: string, url: string, status: number, errors: RegistryErrorEntry[], hint?: string) {
    const what = errors.length
      ? errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ')
      : `HTTP ${status}`;
    super(registryCode(status, errors), `${method} ${url}: ${status} ${what}${hint ? ` (${hint})` : ''}`);
    this.name = 'ErrorResponse';
    this.method = method;
    this.url = redactUserinfo(url);
    this.status = status;
    this.errors = errors;
  }
  /** True when the registry reported `code` (e.g. `MANIFEST_UNKNOWN`). */
  has(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

function registryCode(status: number, errors: RegistryErrorEntry[]): string {
  if (status === 401) return 'HP_OCI_UNAUTHORIZED';
  if (status === 403) return 'HP_OCI_DENIED';
  if (status === 404) {
    if (errors.some((e) => e.code === 'NAME_UNKNOWN')) return 'HP_OCI_NAME_UNKNOWN';
    if (errors.some((e) => e.code === 'MANIFEST_UNKNOWN')) return 'HP_OCI_MANIFEST_UNKNOWN';
    if (errors.some((e) => e.code === 'BLOB_UNKNOWN')) return 'HP_OCI_BLOB_UNKNOWN';
    return 'HP_OCI_NOT_FOUND';
  }
  if (status === 429) return 'HP_OCI_TOO_MANY_REQUESTS';
  return 'HP_OCI_REGISTRY_ERROR';
}

/** Parses a registry error body; tolerates empty or non-JSON bodies (HEAD answers have none). */
export function parseErrorBody(body: string): RegistryErrorEntry[] {
  if (!body) return [];
  try {
    const parsed = JSON.parse(body) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: String(e.code ?? 'UNKNOWN'), message: e.message === undefined ? undefined : String(e.message), detail: e.detail }));
  } catch {
    return [];
  }
}

/** Content whose sha256 or size differs from its descriptor (a corrupt blob or a tampered manifest). */
export class DigestMismatchError extends OciError {
  constructor(readonly expected: string, readonly actual: string, where: string) {
    super('HP_OCI_DIGEST_MISMATCH', `digest mismatch for ${where}: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

/** A reference string that is not `[oci://]host[:port]/repo[:tag][@sha256:…]`. */
export class InvalidReferenceError extends OciError {
  constructor(reference: string, why: string) {
    super('HP_OCI_INVALID_REFERENCE', `invalid image reference "${reference}": ${why}`);
    this.name = 'InvalidReferenceError';
  }
}

/** A registry could not be reached (DNS, refused connection, TLS failure, timeout). */
export class RegistryUnreachableError extends OciError {
  constructor(url: string, cause: unknown) {
    super('HP_OCI_UNREACHABLE', `cannot reach ${url}: ${(cause as Error)?.message ?? cause}${unreachableHint(cause)}`, { cause });
    this.name = 'RegistryUnreachableError';
  }
}

function unreachableHint(cause: unknown): string {
  const code = String((cause as { code?: string })?.code ?? '');
  const message = String((cause as Error)?.message ?? '');
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) return ' (TLS verification failed: pass --insecure for a registry with a self-signed certificate)';
  if (/wrong version number|packet length too long/i.test(message)) return ' (the registry speaks plain HTTP: pass --plain-http)';
  return '';
}

/** An image that does not hold a plugin in any of the formats Istio/Higress accept. */
export class InvalidPluginImageError extends OciError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HP_OCI_INVALID_PLUGIN_IMAGE', message, options);
    this.name = 'InvalidPluginImageError';
  }
}

/** A tar archive with an entry we refuse to extract (absolute path, `..`, link, device). */
export class UnsafeArchiveError extends OciError {
  constructor(message: string) {
    super('HP_OCI_UNSAFE_ARCHIVE', message);
    this.name = 'UnsafeArchiveError';
  }
}

/** Content larger than the configured limit. */
export class SizeLimitError extends OciError {
  constructor(what: string, limit: number) {
    super('HP_OCI_TOO_LARGE', `${what} exceeds the size limit of ${limit} bytes`);
    this.name = 'SizeLimitError';
  }
}

/** Credentials could not be read (a failing credential helper, a malformed docker config). */
export class CredentialError extends OciError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HP_OCI_CREDENTIALS', message, options);
    this.name = 'CredentialError';
  }
}

/** An OCI image layout folder that is missing files or is malformed. */
export class ImageLayoutError extends OciError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HP_OCI_LAYOUT', message, options);
    this.name = 'ImageLayoutError';
  }
}
