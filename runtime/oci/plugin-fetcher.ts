/**
 * The gateway's plugin loader: fetches a proxy-wasm module from an `oci://`, `file://` or
 * `http(s)://` URL the way Istio/Higress do (formats, `sha256` pinning of the manifest, pull
 * policies, size limit, `\0asm` check), with an on-disk cache keyed by digest and a
 * tag→digest map. When the source is down or broken, a cached module keeps serving and the
 * failure is reported in the result.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE } from '../../spec/index.js';
import type { CredentialSource } from './auth/credentials.js';
import { digestHex, normalizeDigest, sha256Digest } from './digest.js';
import { ErrorResponse, InvalidPluginImageError, OciError } from './errors.js';
import { atomicWrite } from './image-layout.js';
import { checkWasmMagic, isIndexManifest, parseManifest, selectFromIndex, selectPluginLayer, wasmFromLayer, type PluginImageFormat } from './plugin-image.js';
import { parseReference } from './reference.js';
import { Repository } from './registry-client.js';
import { isGzip, gunzipBounded, readTar } from './tar-gz.js';
import { agentFor, drain, header, readBody, send } from './transport.js';

/** Options of {@link fetchPlugin}; every field may be left out. */
export interface FetchPluginOptions {
  /**
   * Expected sha256 (`sha256:<hex>` or bare hex). For `oci://` it pins the MANIFEST digest (as
   * Istio does); for http/file the module bytes (or the downloaded archive). Left out: no pin,
   * unless the oci URL carries `@sha256:…`.
   */
  sha256?: string;
  /**
   * Default for oci: `Always` for `:latest` or an untagged URL, else `IfNotPresent`; for
   * http(s): `IfNotPresent` (a URL fetched once is served from the cache). `Always` still
   * skips the blob download when the manifest digest is already cached.
   */
  pullPolicy?: 'IfNotPresent' | 'Always';
  /** Cache folder; default `$HIGRESS_PLUGIN_CACHE_DIR`, else `$XDG_CACHE_HOME/higress-plugin/wasm`, else `~/.cache/higress-plugin/wasm`. */
  cacheDir?: string;
  /** Registry credentials; default: environment, then the docker config. */
  credentials?: CredentialSource;
  /** Plain HTTP to the registry; default only for loopback hosts. */
  plainHttp?: boolean;
  /** Skip TLS verification (registry and https URLs); default false. */
  insecure?: boolean;
  /** Largest module accepted; default 256 MiB (Istio's limit). */
  maxBytes?: number;
  /** Per-request timeout in ms; default 30 s. */
  timeoutMs?: number;
}

/** A fetched module. */
export interface FetchedPlugin {
  wasm: Uint8Array;
  /** Manifest digest for oci, sha256 of the module for file/http. */
  digest: string;
  /** The URL asked for. */
  url: string;
  /** True when served from the cache without a download. */
  cached: boolean;
  /** Image layout the module came from (oci only). */
  format?: PluginImageFormat;
  /** Set when the source failed and a cached module was served instead. */
  staleError?: OciError;
}

interface CacheIndex {
  /** Source key (normalised URL) → digest last fetched. */
  tags: Record<string, string>;
  /** Digest → sha256 of the module file, checked on every cache read. */
  modules: Record<string, string>;
}

/** Default cache folder (see {@link FetchPluginOptions.cacheDir}). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HIGRESS_PLUGIN_CACHE_DIR) return env.HIGRESS_PLUGIN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'higress-plugin', 'wasm');
}

const indexWrites = new Map<string, Promise<void>>();

/** One on-disk cache folder. Writes are atomic (temp file + rename). */
class ModuleCache {
  constructor(readonly dir: string) {}
  private get indexPath(): string {
    return join(this.dir, 'index.json');
  }
  async readIndex(): Promise<CacheIndex> {
    try {
      const parsed = JSON.parse(await readFile(this.indexPath, 'utf8')) as Partial<CacheIndex>;
      return { tags: parsed.tags ?? {}, modules: parsed.modules ?? {} };
    } catch {
      return { tags: {}, modules: {} };
    }
  }
  /** The cached module for `digest`, if present and intact. */
  async get(digest: string): Promise<Buffer | undefined> {
    const index = await this.readIndex();
    const expected = index.modules[digest];
    const path = join(this.dir, 'modules', `${digestHex(digest)}.wasm`);
    if (!expected || !existsSync(path)) return undefined;
    const data = await readFile(path);
    return sha256Digest(data) === expected ? data : undefined;
  }
  async lookupTag(key: string): Promise<string | undefined> {
    return (await this.readIndex()).tags[key];
  }
  async put(key: string | undefined, digest: string, wasm: Uint8Array): Promise<void> {
    await mkdir(join(this.dir, 'modules'), { recursive: true });
    await atomicWrite(join(this.dir, 'modules', `${digestHex(digest)}.wasm`), wasm);
    // Index updates are read-modify-write: serialise them per folder so concurrent fetches of
    // different URLs in this process do not drop each other's entries.
    const previous = indexWrites.get(this.dir) ?? Promise.resolve();
    const next = previous.then(async () => {
      const index = await this.readIndex();
      index.modules[digest] = sha256Digest(wasm);
      if (key) index.tags[key] = digest;
      await atomicWrite(this.indexPath, JSON.stringify(index, null, 1));
    });
    indexWrites.set(this.dir, next.catch(() => undefined));
    await next;
  }
}

const inFlight = new Map<string, Promise<FetchedPlugin>>();

/**
 * Fetches a plugin module. Concurrent calls for the same URL and options share one download.
 * Throws an {@link OciError} when nothing can be served.
 */
export function fetchPlugin(url: string, opts: FetchPluginOptions = {}): Promise<FetchedPlugin> {
  const key = JSON.stringify([url, opts.sha256, opts.pullPolicy, opts.cacheDir]);
  let p = inFlight.get(key);
  if (!p) {
    p = doFetch(url, opts).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function doFetch(url: string, opts: FetchPluginOptions): Promise<FetchedPlugin> {
  const maxBytes = opts.maxBytes ?? IMAGE.limits.maxWasmBytes;
  const pin = opts.sha256 ? normalizeDigest(opts.sha256) : undefined;
  const cache = new ModuleCache(opts.cacheDir ?? defaultCacheDir());
  if (url.startsWith('file://')) return fetchFile(url, pin, maxBytes);
  if (url.startsWith('http://') || url.startsWith('https://')) return fetchHttp(url, pin, maxBytes, cache, opts);
  if (url.startsWith('oci://') || !/^[a-z]+:\/\//.test(url)) return fetchOci(url, pin, maxBytes, cache, opts);
  throw new OciError('HP_OCI_UNSUPPORTED_URL', `plugin URL ${url}: unsupported scheme (use oci://, file://, http:// or https://)`);
}

function asOciError(err: unknown, url: string): OciError {
  if (err instanceof OciError) return err;
  return new OciError('HP_OCI_FETCH_FAILED', `fetching ${url} failed: ${(err as Error)?.message ?? err}`, { cause: err });
}

async function fetchOci(url: string, pin: string | undefined, maxBytes: number, cache: ModuleCache, opts: FetchPluginOptions): Promise<FetchedPlugin> {
  const ref = parseReference(url);
  if (ref.digest && pin && ref.digest !== pin) {
    throw new OciError('HP_OCI_DIGEST_MISMATCH', `plugin URL ${url} pins ${ref.digest} but sha256 says ${pin}`);
  }
  const wanted = pin ?? ref.digest;
  const tagKey = `oci://${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
  if (wanted) {
    const hit = await cache.get(wanted);
    if (hit) return { wasm: hit, digest: wanted, url, cached: true };
  }
  const policy = opts.pullPolicy ?? (!ref.tag || ref.tag === 'latest' ? 'Always' : 'IfNotPresent');
  if (!wanted && policy === 'IfNotPresent') {
    const digest = await cache.lookupTag(tagKey);
    const hit = digest ? await cache.get(digest) : undefined;
    if (hit && digest) return { wasm: hit, digest, url, cached: true };
  }
  try {
    const repo = new Repository(ref, { credentials: opts.credentials, plainHttp: opts.plainHttp, insecure: opts.insecure, timeoutMs: opts.timeoutMs });
    const top = await repo.fetchManifest(ref.digest ?? ref.tag ?? 'latest');
    // Pins and cache keys use the digest the reference resolves to (the index, when it is one).
    const descriptor = top.descriptor;
    if (wanted && descriptor.digest !== wanted) {
      throw new OciError('HP_OCI_DIGEST_MISMATCH', `plugin ${url}: manifest digest is ${descriptor.digest}, but ${wanted} is pinned`);
    }
    // With Always on a tag, a cached module for the digest the tag now names skips the blob download.
    const hit = await cache.get(descriptor.digest);
    if (hit) {
      if (!ref.digest) await cache.put(tagKey, descriptor.digest, hit);
      return { wasm: hit, digest: descriptor.digest, url, cached: true };
    }
    let manifestType = descriptor.mediaType;
    let manifestBytes = top.bytes;
    if (isIndexManifest(descriptor.mediaType, top.bytes)) {
      const child = await repo.fetchManifest(selectFromIndex(top.bytes, url).digest);
      manifestType = child.descriptor.mediaType;
      manifestBytes = child.bytes;
    }
    const manifest = parseManifest(manifestBytes, url);
    const picked = selectPluginLayer(manifest, manifestType);
    const limit = picked.format === 'wasm-layer' ? maxBytes : maxBytes + (1 << 20);
    if (picked.layer.size > limit) throw new OciError('HP_OCI_TOO_LARGE', `plugin ${url}: layer ${picked.layer.digest} is ${picked.layer.size} bytes, over the limit of ${maxBytes}`);
    const layer = await repo.fetch(picked.layer);
    const wasm = wasmFromLayer(picked, layer, maxBytes);
    await cache.put(ref.digest ? undefined : tagKey, descriptor.digest, wasm);
    return { wasm, digest: descriptor.digest, url, cached: false, format: picked.format };
  } catch (err) {
    const error = asOciError(err, url);
    // A pin mismatch is a content problem, never something to paper over with the cache.
    if (error.code === 'HP_OCI_DIGEST_MISMATCH' && wanted) throw error;
    const digest = wanted ?? (await cache.lookupTag(tagKey));
    const stale = digest ? await cache.get(digest) : undefined;
    if (stale && digest) return { wasm: stale, digest, url, cached: true, staleError: error };
    throw error;
  }
}

/** Unwraps a downloaded file: gzip and/or tar around the module are removed, then `\0asm` is checked. */
function unwrapModule(data: Buffer, maxBytes: number, where: string): Buffer {
  let body = data;
  if (isGzip(body)) body = gunzipBounded(body, maxBytes + (1 << 20), where);
  if (body.length >= 512 && body.toString('ascii', 257, 262) === 'ustar') {
    const entries = readTar(body, maxBytes);
    const found = entries.find((e) => e.name === IMAGE.pluginFiles.wasm || e.name.endsWith(`/${IMAGE.pluginFiles.wasm}`)) ?? (entries.length === 1 ? entries[0] : undefined);
    if (!found) throw new InvalidPluginImageError(`${where}: archive has no ${IMAGE.pluginFiles.wasm}`);
    body = found.data;
  }
  if (body.byteLength > maxBytes) throw new OciError('HP_OCI_TOO_LARGE', `${where} exceeds ${maxBytes} bytes`);
  checkWasmMagic(body, where);
  return body;
}

function checkPin(pin: string | undefined, raw: Buffer, wasm: Buffer, url: string): string {
  const digest = sha256Digest(wasm);
  if (pin && pin !== digest && pin !== sha256Digest(raw)) {
    throw new OciError('HP_OCI_DIGEST_MISMATCH', `plugin ${url}: sha256 is ${digest}, but ${pin} is pinned`);
  }
  return digest;
}

async function fetchFile(url: string, pin: string | undefined, maxBytes: number): Promise<FetchedPlugin> {
  const path = fileURLToPath(url);
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    throw new OciError('HP_OCI_FETCH_FAILED', `plugin ${url}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (raw.byteLength > maxBytes + (1 << 20)) throw new OciError('HP_OCI_TOO_LARGE', `plugin ${url} exceeds ${maxBytes} bytes`);
  const wasm = unwrapModule(raw, maxBytes, url);
  return { wasm, digest: checkPin(pin, raw, wasm, url), url, cached: false };
}

async function fetchHttp(url: string, pin: string | undefined, maxBytes: number, cache: ModuleCache, opts: FetchPluginOptions): Promise<FetchedPlugin> {
  if (pin) {
    const hit = await cache.get(pin);
    if (hit) return { wasm: hit, digest: pin, url, cached: true };
  }
  if (!pin && opts.pullPolicy !== 'Always') {
    const digest = await cache.lookupTag(url);
    const hit = digest ? await cache.get(digest) : undefined;
    if (hit && digest) return { wasm: hit, digest, url, cached: true };
  }
  try {
    let current = url;
    let res = await send({ method: 'GET', url: current, headers: { 'user-agent': 'higress-plugin' } }, agentFor(opts.insecure ?? false), opts.timeoutMs);
    for (let hops = 0; res.status >= 300 && res.status < 400 && header(res, 'location') && hops < 5; hops++) {
      await drain(res);
      current = new URL(header(res, 'location')!, current).href;
      res = await send({ method: 'GET', url: current, headers: { 'user-agent': 'higress-plugin' } }, agentFor(opts.insecure ?? false), opts.timeoutMs);
    }
    if (res.status !== 200) {
      await drain(res);
      throw new ErrorResponse('GET', current, res.status, []);
    }
    const raw = await readBody(res, maxBytes + (1 << 20), `plugin ${url}`);
    const wasm = unwrapModule(raw, maxBytes, url);
    const digest = checkPin(pin, raw, wasm, url);
    await cache.put(url, digest, wasm);
    return { wasm, digest, url, cached: false };
  } catch (err) {
    const error = asOciError(err, url);
    if (error.code === 'HP_OCI_DIGEST_MISMATCH') throw error;
    const digest = pin ?? (await cache.lookupTag(url));
    const stale = digest ? await cache.get(digest) : undefined;
    if (stale && digest) return { wasm: stale, digest, url, cached: true, staleError: error };
    throw error;
  }
}

/** sha256 hex of bytes (exported for callers that log module identities). */
export function moduleSha256(wasm: Uint8Array): string {
  return createHash('sha256').update(wasm).digest('hex');
}
