/**
 * A client for one repository of an OCI distribution registry (distribution-spec v1.1), with
 * the oras-go verbs: `resolve`, `fetch`, `exists`, `push`, `mount`, `tag`, plus `tags`.
 * Every fetched byte is checked against its digest.
 */
import type { Dispatcher } from 'undici';
import { AuthClient } from './auth/auth-client.js';
import { toProvider, type CredentialSource } from './auth/credentials.js';
import { repositoryScope } from './auth/scope.js';
import { parseChallenge } from './auth/challenge.js';
import { DigestMismatchError, ErrorResponse, OciError, SizeLimitError, parseErrorBody } from './errors.js';
import { isDigest, sha256Digest, verifyContent } from './digest.js';
import { MANIFEST_ACCEPT, isManifestType, type Descriptor } from './descriptor.js';
import { formatReference, manifestReference, parseReference, type Reference } from './reference.js';
import { agentFor, drain, header, readBody, schemeFor, send, type HttpRequest, type HttpResponse } from './transport.js';

/** Progress of a push or pull, for a progress bar. */
export interface TransferEvent {
  kind: 'skip' | 'upload' | 'mount' | 'download' | 'manifest';
  descriptor: Descriptor;
  /** Bytes moved so far for this descriptor. */
  bytes: number;
}

/** Options of {@link Repository}. Every option may be left out. */
export interface RepositoryOptions {
  /** Credentials; default: environment, then the docker config (see `defaultCredentialProvider`). */
  credentials?: CredentialSource;
  /** Force plain HTTP (true) or HTTPS (false); default: HTTP for loopback hosts only (HTTPS when `insecure`). */
  plainHttp?: boolean;
  /** Use HTTPS without verifying the certificate (self-signed registries); default false. */
  insecure?: boolean;
  /** Blobs larger than this are uploaded in chunks (PATCH); default 32 MiB. */
  monolithicMaxBytes?: number;
  /** Chunk size of chunked uploads; default 8 MiB. */
  chunkBytes?: number;
  /** Per-request timeout in ms; default 30 s. */
  timeoutMs?: number;
  /** Called as content moves; default none. */
  onProgress?: (event: TransferEvent) => void;
  /** Connection pool; default a shared pool for the TLS mode. */
  dispatcher?: Dispatcher;
  /** Share one auth client (and its token cache) between repositories; default a new one. */
  auth?: AuthClient;
}

/** A fetched manifest: its descriptor (digest from the bytes) and exact bytes. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** One repository on one registry. */
export class Repository {
  /** The parsed reference this client was made for (tag/digest are defaults for `resolve`). */
  readonly reference: Reference;
  private readonly base: string;
  private readonly auth: AuthClient;
  private readonly opts: RepositoryOptions;

  /** `reference` is `[oci://]host/repo[:tag][@digest]` or an already parsed {@link Reference}. */
  constructor(reference: string | Reference, options: RepositoryOptions = {}) {
    this.reference = typeof reference === 'string' ? parseReference(reference) : reference;
    this.opts = options;
    const dispatcher = options.dispatcher ?? agentFor(options.insecure ?? false);
    this.base = `${schemeFor(this.reference.registry, options.plainHttp, options.insecure)}://${this.reference.registry}/v2/${this.reference.repository}`;
    this.auth = options.auth ?? new AuthClient({ credentials: toProvider(options.credentials), dispatcher, timeoutMs: options.timeoutMs });
  }

  /** `host/repo` for messages. */
  get name(): string {
    return `${this.reference.registry}/${this.reference.repository}`;
  }

  private async request(req: HttpRequest, actions: string[]): Promise<HttpResponse> {
    return this.auth.send(this.reference.registry, req, [repositoryScope(this.reference.repository, actions)]);
  }

  /** Turns a failed answer into an {@link ErrorResponse} with a hint a user can act on. */
  private async fail(req: HttpRequest, res: HttpResponse, what: string): Promise<never> {
    const body = req.method === 'HEAD' ? '' : (await readBody(res, 1 << 20).catch(() => Buffer.alloc(0))).toString('utf8');
    const errors = parseErrorBody(body);
    let hint: string;
    if (res.status === 401) {
      const cred = await this.auth.credential(this.reference.registry).catch(() => undefined);
      const has = !!(cred && (cred.username || cred.password || cred.identityToken || cred.registryToken));
      const who = cred?.username ? `user "${cred.username}"` : cred?.identityToken ? 'the identity token' : cred?.registryToken ? 'the registry token' : 'the credentials';
      const challenge = parseChallenge(header(res, 'www-authenticate'));
      if (challenge?.params.error === 'insufficient_scope') {
        const scope = challenge.params.scope ?? 'this access';
        hint = has
          ? `${who} is not granted ${scope}`
          : `anonymous access is not granted ${scope}; ${this.reference.registry} needs credentials: pass -u/-p, set the environment, or log in with docker`;
      } else {
        hint = has ? `${this.reference.registry} rejected the credentials of ${who}` : `${this.reference.registry} needs credentials: pass -u/-p, set the environment, or log in with docker`;
      }
    } else if (res.status === 403) hint = `access to ${this.name} denied`;
    else if (res.status === 404) hint = errors.some((e) => e.code === 'NAME_UNKNOWN') ? `repository ${this.name} does not exist` : `${what} not found in ${this.name}`;
    else hint = `${what} in ${this.name}`;
    // Distribution answers MANIFEST_UNKNOWN for a manifest of a repository that does not exist;
    // the tag list tells the two apart (NAME_UNKNOWN), which is the error a user can act on.
    if (res.status === 404 && isManifestPath(req.url) && !errors.some((e) => e.code === 'NAME_UNKNOWN') && (await this.repositoryMissing())) {
      errors.unshift({ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' });
      hint = `repository ${this.name} does not exist`;
    }
    if (req.method === 'HEAD' && res.status === 404 && errors.length === 0) {
      errors.push({ code: isManifestPath(req.url) ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', message: `${what} unknown` });
    }
    throw new ErrorResponse(req.method, req.url, res.status, errors, hint);
  }

  private async repositoryMissing(): Promise<boolean> {
    try {
      const res = await this.request({ method: 'GET', url: `${this.base}/tags/list?n=1` }, ['pull']);
      const body = (await readBody(res, 1 << 20).catch(() => Buffer.alloc(0))).toString('utf8');
      return res.status === 404 && parseErrorBody(body).some((e) => e.code === 'NAME_UNKNOWN');
    } catch {
      return false;
    }
  }

  /**
   * Resolves a tag or digest (default: the reference's own) to the manifest descriptor, with a
   * HEAD request; falls back to GET when the registry omits `Docker-Content-Digest`.
   */
  async resolve(reference: string = manifestReference(this.reference)): Promise<Descriptor> {
    const req: HttpRequest = { method: 'HEAD', url: `${this.base}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT.join(', ') } };
    const res = await this.request(req, ['pull']);
    if (res.status !== 200) return this.fail(req, res, `manifest ${reference}`);
    await drain(res);
    const digest = header(res, 'docker-content-digest');
    const mediaType = header(res, 'content-type')?.split(';')[0].trim();
    const size = Number(header(res, 'content-length'));
    if (!digest || !isDigest(digest) || !mediaType || !Number.isFinite(size)) return (await this.fetchManifest(reference)).descriptor;
    if (isDigest(reference) && digest !== reference) throw new OciError('HP_OCI_DIGEST_MISMATCH', `registry answered digest ${digest} for ${reference}`);
    return { mediaType, digest, size };
  }

  /**
   * Fetches a manifest by tag or digest (default: the reference's own). The digest is computed
   * from the bytes and checked against the requested digest or the registry's
   * `Docker-Content-Digest`. `maxBytes` defaults to 4 MiB (distribution's manifest limit).
   */
  async fetchManifest(reference: string = manifestReference(this.reference), maxBytes = 4 << 20): Promise<FetchedManifest> {
    const req: HttpRequest = { method: 'GET', url: `${this.base}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT.join(', ') } };
    const res = await this.request(req, ['pull']);
    if (res.status !== 200) return this.fail(req, res, `manifest ${reference}`);
    const bytes = await readBody(res, maxBytes, `manifest ${reference}`);
    const digest = sha256Digest(bytes);
    const expected = isDigest(reference) ? reference : header(res, 'docker-content-digest');
    if (expected && expected !== digest) verifyContent(bytes, expected, undefined, `manifest ${this.name}:${reference}`);
    let mediaType = header(res, 'content-type')?.split(';')[0].trim();
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: string };
      if (parsed.mediaType) mediaType = parsed.mediaType;
    } catch (err) {
      throw new OciError('HP_OCI_MANIFEST_INVALID', `manifest ${this.name}:${reference} is not JSON`, { cause: err });
    }
    return { descriptor: { mediaType: mediaType ?? 'application/octet-stream', digest, size: bytes.byteLength }, bytes };
  }

  /**
   * Fetches the content of `desc` (a blob, or a manifest when its media type says so) and
   * verifies size and digest. `maxBytes` defaults to `desc.size`.
   */
  async fetch(desc: Descriptor, maxBytes = desc.size): Promise<Buffer> {
    if (desc.size > maxBytes) throw new OciError('HP_OCI_TOO_LARGE', `${desc.digest} is ${desc.size} bytes, over the limit of ${maxBytes}`);
    if (isManifestType(desc.mediaType)) {
      const m = await this.fetchManifest(desc.digest, maxBytes);
      verifyContent(m.bytes, desc.digest, desc.size, `manifest ${this.name}@${desc.digest}`);
      return m.bytes;
    }
    let req: HttpRequest = { method: 'GET', url: `${this.base}/blobs/${desc.digest}` };
    let res = await this.request(req, ['pull']);
    // Registries may redirect blob downloads to storage (S3, CDN): follow without our credentials.
    for (let hops = 0; res.status >= 300 && res.status < 400 && header(res, 'location') && hops < 5; hops++) {
      await drain(res);
      req = { method: 'GET', url: new URL(header(res, 'location')!, req.url).href };
      res = await send(req, agentFor(this.opts.insecure ?? false), this.opts.timeoutMs);
    }
    if (res.status !== 200) return this.fail(req, res, `blob ${desc.digest}`);
    // More bytes than the descriptor says is corrupt content, not an over-limit download.
    const bytes = await readBody(res, Math.min(maxBytes, desc.size), `blob ${desc.digest}`).catch((err: unknown) => {
      if (err instanceof SizeLimitError) throw new DigestMismatchError(`${desc.digest} (${desc.size} bytes)`, 'a longer body', `blob ${desc.digest} of ${this.name}`);
      throw err;
    });
    verifyContent(bytes, desc.digest, desc.size, `blob ${desc.digest} of ${this.name}`);
    this.opts.onProgress?.({ kind: 'download', descriptor: desc, bytes: bytes.byteLength });
    return bytes;
  }

  /** True when the registry has the blob (or manifest) `desc`. */
  async exists(desc: Descriptor): Promise<boolean> {
    const kind = isManifestType(desc.mediaType) ? 'manifests' : 'blobs';
    const req: HttpRequest = { method: 'HEAD', url: `${this.base}/${kind}/${desc.digest}`, headers: kind === 'manifests' ? { accept: MANIFEST_ACCEPT.join(', ') } : undefined };
    const res = await this.request(req, ['pull']);
    await drain(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(req, res, `${kind === 'blobs' ? 'blob' : 'manifest'} ${desc.digest}`);
  }

  /**
   * Pushes `data` as `desc`. Manifests go to `/manifests/<digest>` (use {@link tag} or
   * {@link pushManifest} to name them); blobs use a monolithic upload, or PATCH chunks above
   * `monolithicMaxBytes`. Verifies `data` against `desc` first.
   */
  async push(desc: Descriptor, data: Uint8Array): Promise<void> {
    verifyContent(data, desc.digest, desc.size, `content to push (${desc.mediaType})`);
    if (isManifestType(desc.mediaType)) return this.pushManifest(desc.digest, desc, data);
    const start = await this.startUpload();
    const max = this.opts.monolithicMaxBytes ?? 32 << 20;
    let location = start;
    if (data.byteLength > max) {
      const chunk = this.opts.chunkBytes ?? 8 << 20;
      for (let offset = 0; offset < data.byteLength; offset += chunk) {
        const part = data.subarray(offset, Math.min(offset + chunk, data.byteLength));
        const req: HttpRequest = {
          method: 'PATCH',
          url: location,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + part.byteLength - 1}`, 'content-length': String(part.byteLength) },
          body: part,
        };
        const res = await this.request(req, ['pull', 'push']);
        if (res.status !== 202) return this.fail(req, res, `upload of ${desc.digest}`);
        await drain(res);
        location = this.location(res, location);
        this.opts.onProgress?.({ kind: 'upload', descriptor: desc, bytes: offset + part.byteLength });
      }
      const req: HttpRequest = { method: 'PUT', url: withDigest(location, desc.digest), headers: { 'content-length': '0' } };
      const res = await this.request(req, ['pull', 'push']);
      if (res.status !== 201) return this.fail(req, res, `upload of ${desc.digest}`);
      await drain(res);
      return;
    }
    const req: HttpRequest = {
      method: 'PUT',
      url: withDigest(location, desc.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) },
      body: data,
    };
    const res = await this.request(req, ['pull', 'push']);
    if (res.status !== 201) return this.fail(req, res, `upload of ${desc.digest}`);
    await drain(res);
    this.opts.onProgress?.({ kind: 'upload', descriptor: desc, bytes: data.byteLength });
  }

  /** POST /blobs/uploads/ → the upload session URL (Location may be relative; its query is kept). */
  private async startUpload(): Promise<string> {
    const req: HttpRequest = { method: 'POST', url: `${this.base}/blobs/uploads/`, headers: { 'content-length': '0' } };
    const res = await this.request(req, ['pull', 'push']);
    if (res.status !== 202) return this.fail(req, res, 'blob upload');
    await drain(res);
    return this.location(res, req.url);
  }

  private location(res: HttpResponse, current: string): string {
    const loc = header(res, 'location');
    if (!loc) throw new OciError('HP_OCI_REGISTRY_ERROR', `registry ${this.reference.registry} started an upload without a Location header`);
    return new URL(loc, current).href;
  }

  /**
   * Cross-repository mount (`POST …/uploads/?mount=<digest>&from=<repo>`). Returns true when the
   * registry mounted the blob; false when it declined (the caller pushes the bytes instead).
   */
  async mount(desc: Descriptor, fromRepository: string): Promise<boolean> {
    const req: HttpRequest = { method: 'POST', url: `${this.base}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`, headers: { 'content-length': '0' } };
    const res = await this.auth.send(this.reference.registry, req, [repositoryScope(this.reference.repository, ['pull', 'push']), repositoryScope(fromRepository, ['pull'])]);
    if (res.status !== 201 && res.status !== 202) return this.fail(req, res, `mount of ${desc.digest}`);
    await drain(res);
    if (res.status === 201) {
      this.opts.onProgress?.({ kind: 'mount', descriptor: desc, bytes: desc.size });
      return true;
    }
    // 202: an upload session was opened instead; cancel it so it does not linger.
    const loc = header(res, 'location');
    if (loc) {
      await this.request({ method: 'DELETE', url: new URL(loc, req.url).href }, ['pull', 'push']).then(drain, () => undefined);
    }
    return false;
  }

  /** PUTs manifest bytes under `reference` (a tag, or the digest) with `Content-Type` = its media type. */
  async pushManifest(reference: string, desc: Descriptor, data: Uint8Array): Promise<void> {
    verifyContent(data, desc.digest, desc.size, `manifest to push`);
    const req: HttpRequest = { method: 'PUT', url: `${this.base}/manifests/${reference}`, headers: { 'content-type': desc.mediaType, 'content-length': String(data.byteLength) }, body: data };
    const res = await this.request(req, ['pull', 'push']);
    if (res.status !== 201) return this.fail(req, res, `manifest ${reference}`);
    await drain(res);
    const answered = header(res, 'docker-content-digest');
    if (answered && answered !== desc.digest) throw new OciError('HP_OCI_DIGEST_MISMATCH', `registry stored manifest ${reference} as ${answered}, expected ${desc.digest}`);
    this.opts.onProgress?.({ kind: 'manifest', descriptor: desc, bytes: data.byteLength });
  }

  /** Tags the manifest `desc` (already in this repository) as `tag`. */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    const m = await this.fetchManifest(desc.digest);
    await this.pushManifest(tag, { ...desc, mediaType: m.descriptor.mediaType }, m.bytes);
  }

  /** Tags of the repository (`GET /tags/list`, following `Link` pagination). */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let url: string | undefined = `${this.base}/tags/list`;
    while (url) {
      const req: HttpRequest = { method: 'GET', url };
      const res = await this.request(req, ['pull']);
      if (res.status !== 200) return this.fail(req, res, 'tag list');
      const body = JSON.parse((await readBody(res, 16 << 20)).toString('utf8')) as { tags?: string[] | null };
      out.push(...(body.tags ?? []));
      const link = header(res, 'link');
      const m = link ? /<([^>]+)>/.exec(link) : null;
      url = m ? new URL(m[1], url).href : undefined;
    }
    return out;
  }

  toString(): string {
    return formatReference(this.reference);
  }
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.href;
}

function isManifestPath(url: string): boolean {
  return url.includes('/manifests/');
}
