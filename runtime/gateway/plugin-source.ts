/**
 * Fetches plugin modules named by URL. Uses the OCI client's `fetchPlugin` (oci://, file://,
 * http(s)://, with its digest cache) when it is available, else reads `file://` URLs itself.
 * A `file://` module whose file has not changed since its last fetch (same device, inode, size,
 * mtime and ctime, in nanoseconds) is not read or hashed again.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';

/** A fetched module with its digest (`sha256:<hex>`). */
export interface PluginBytes {
  wasm: Uint8Array;
  digest: string;
  url: string;
  /** True when the module came from the unchanged-file cache without reading the file (undefined = fetched). */
  unchanged?: boolean;
}

type FetchFn = (url: string, opts: { sha256?: string; pullPolicy?: 'IfNotPresent' | 'Always'; cacheDir?: string }) => Promise<PluginBytes & { staleError?: Error }>;
let fetcher: FetchFn | null | undefined;

async function ociFetcher(): Promise<FetchFn | null> {
  if (fetcher !== undefined) return fetcher;
  try {
    const spec = '../oci/plugin-fetcher.js';
    const mod = (await import(spec)) as { fetchPlugin?: FetchFn };
    fetcher = mod.fetchPlugin ?? null;
  } catch {
    fetcher = null;
  }
  return fetcher;
}

async function readFileUrl(url: string, sha256?: string): Promise<PluginBytes> {
  const bytes = new Uint8Array(await readFile(fileURLToPath(url)));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (sha256 && digest !== (sha256.startsWith('sha256:') ? sha256 : `sha256:${sha256}`)) {
    throw new Error(`sha256 mismatch: got ${digest}, expected ${sha256}`);
  }
  return { wasm: bytes, digest, url };
}

/** A plugin URL whose last fetch failed and was answered from the cache. */
export interface StaleFetch {
  /** The fetch error, credentials redacted. */
  error: string;
  /** Digest of the cached module being served. */
  digest: string;
  /** When the failed fetch happened (ISO time). */
  since: string;
}

// Per URL, the last fetch outcome when it was stale; a good fetch clears it. Read by the admin API.
const staleByUrl = new Map<string, StaleFetch>();

/** Whether the module served for `url` came from the cache because its source failed (undefined = fresh). */
export function staleFetch(url: string): StaleFetch | undefined {
  return staleByUrl.get(url);
}

// Per file:// URL and pin, the file's identity at the last good fetch and what it gave. Reloads
// happen on every config write; re-reading and re-hashing unchanged modules was wasted time.
const byFile = new Map<string, { stamp: string; bytes: PluginBytes }>();
const MAX_FILES = 256;

/** Identity of a file's current content, or undefined when it cannot be stat'ed (the fetch reports why). */
function fileStamp(url: string): string | undefined {
  try {
    const st = statSync(fileURLToPath(url), { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/** Fetches one plugin; failures become a ConfigError naming the plugin object and its `url` field. */
export async function fetchPluginBytes(url: string, opts: { sha256?: string; pullPolicy?: 'IfNotPresent' | 'Always'; cacheDir?: string }, where: ConfigLocation | undefined): Promise<PluginBytes> {
  if (!url.startsWith('file://')) return fetchNow(url, opts, where);
  const key = `${url}\n${opts.sha256 ?? ''}`;
  // Stamped before the read: a file that changes during the read gets a new stamp, so the next fetch reads it again.
  const stamp = fileStamp(url);
  const hit = byFile.get(key);
  if (stamp && hit?.stamp === stamp) {
    staleByUrl.delete(url);
    return { ...hit.bytes, unchanged: true };
  }
  const bytes = await fetchNow(url, opts, where);
  if (stamp) {
    byFile.delete(key);
    if (byFile.size >= MAX_FILES) byFile.delete(byFile.keys().next().value!);
    byFile.set(key, { stamp, bytes });
  }
  return bytes;
}

async function fetchNow(url: string, opts: { sha256?: string; pullPolicy?: 'IfNotPresent' | 'Always'; cacheDir?: string }, where: ConfigLocation | undefined): Promise<PluginBytes> {
  try {
    const f = await ociFetcher();
    if (f) {
      const r = await f(url, opts);
      if (r.staleError) {
        // The source failed and the cache answered: keep serving, but say so.
        const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*@)/i.exec(url)?.[1];
        const redact = (text: string) => (userinfo ? text.split(userinfo).join('***@') : text);
        const since = new Date().toISOString();
        staleByUrl.set(url, { error: redact(r.staleError.message), digest: r.digest, since });
        process.stderr.write(`[${since}] [warn] [gateway] plugin ${redact(url)}: ${redact(r.staleError.message)}; serving the cached module ${r.digest}\n`);
      } else {
        staleByUrl.delete(url);
      }
      return { wasm: r.wasm, digest: r.digest, url: r.url };
    }
    if (url.startsWith('file://')) return await readFileUrl(url, opts.sha256);
    throw new Error('only file:// plugin URLs can be loaded (the OCI client is not available)');
  } catch (err) {
    // A password written into the URL (`oci://user:pass@host/...`) must not travel on in errors.
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*@)/i.exec(url)?.[1];
    const redact = (text: string) => (userinfo ? text.split(userinfo).join('***@') : text);
    throw new ConfigError(CONFIG_CODES.pluginFetch, `cannot fetch plugin ${redact(url)}: ${redact((err as Error).message)}`, { ...where, field: 'url' }, userinfo ? undefined : { cause: err });
  }
}
