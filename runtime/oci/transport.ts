/**
 * The HTTP layer under the registry client: undici requests with a shared connection pool per
 * TLS mode, bounded body reads, and the plain-HTTP policy (loopback only unless asked).
 */
import { Agent, request, type Dispatcher } from 'undici';
import { RegistryUnreachableError, SizeLimitError } from './errors.js';
import { isLoopbackHost } from './reference.js';

/** A request as the client builds it. Bodies are buffers so a request can be replayed after an auth challenge. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

/** An answer whose body has not been read yet. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

let verifiedAgent: Agent | undefined;
let insecureAgent: Agent | undefined;

/** The shared connection pool for `insecure` (TLS verification off) or verified TLS. */
export function agentFor(insecure: boolean): Agent {
  if (insecure) return (insecureAgent ??= new Agent({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 10_000 }));
  return (verifiedAgent ??= new Agent({ keepAliveTimeout: 10_000 }));
}

/**
 * `http` or `https` for a registry: `plainHttp` true forces http, false https; undefined means
 * http for loopback hosts only (as oras does) and https for everything else — unless
 * `insecure` is set, which asks for TLS without verification and so means https.
 */
export function schemeFor(registry: string, plainHttp: boolean | undefined, insecure = false): 'http' | 'https' {
  if (plainHttp !== undefined) return plainHttp ? 'http' : 'https';
  if (insecure) return 'https';
  return isLoopbackHost(registry) ? 'http' : 'https';
}

/** Sends one request; network failures become {@link RegistryUnreachableError}. */
export async function send(req: HttpRequest, dispatcher: Dispatcher, timeoutMs = 30_000): Promise<HttpResponse> {
  try {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
      dispatcher,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (err) {
    throw new RegistryUnreachableError(req.url, err);
  }
}

/** Reads a whole body, failing with {@link SizeLimitError} past `maxBytes` (default: no limit). */
export async function readBody(res: HttpResponse, maxBytes = Infinity, what = 'response'): Promise<Buffer> {
  const declared = Number(header(res, 'content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new SizeLimitError(what, maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).byteLength;
    if (total > maxBytes) {
      res.body.destroy();
      throw new SizeLimitError(what, maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/** Discards a body so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  try {
    await res.body.dump({ limit: 1 << 20 });
  } catch {
    /* the connection is dropped instead */
  }
}

/** First value of a response header (lower-case name). */
export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
