/**
 * Registry authentication: answers a 401 challenge with Basic credentials or the Bearer token
 * flow (distribution `docs/spec/auth/token.md`, `oauth.md`), caching the scheme per registry and
 * tokens per scope set, and replays the request once.
 */
import type { Dispatcher } from 'undici';
import { ErrorResponse, OciError, RegistryUnreachableError, parseErrorBody } from '../errors.js';
import { drain, header, readBody, send, type HttpRequest, type HttpResponse } from '../transport.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { mergeScopes } from './scope.js';
import type { Credential, CredentialProvider } from './credentials.js';

const RETRIES = 2;
const backoff = (attempt: number) => 100 * 3 ** attempt;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isTransient(cause: unknown): boolean {
  const code = String((cause as { code?: string })?.code ?? '');
  return ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT'].includes(code);
}

interface HostState {
  scheme?: 'basic' | 'bearer';
  basic?: string;
  challenge?: Challenge;
  /** Bearer tokens keyed by the space-joined sorted scope list. */
  tokens: Map<string, { token: string; expiresAt: number }>;
  /** Token requests in flight, by scope key. */
  pending: Map<string, Promise<string>>;
}

/** Options of {@link AuthClient}. */
export interface AuthClientOptions {
  /** Where credentials come from; required (use `defaultCredentialProvider()` for docker's chain). */
  credentials: CredentialProvider;
  /** Connection pool; required. */
  dispatcher: Dispatcher;
  /** Request timeout in ms; default 30 s. */
  timeoutMs?: number;
  /** User-Agent header; default `higress-plugin`. */
  userAgent?: string;
  /**
   * Host names a registry may send the Bearer token flow to besides its own host. Default: the
   * comma-separated `HIGRESS_PLUGIN_ALLOWED_REALM_HOSTS`, plus Docker Hub's `auth.docker.io`
   * for Docker Hub's registry hosts. A realm anywhere else is refused (credentials never leave).
   */
  allowedRealmHosts?: string[];
}

/** Environment variable listing extra token-service hosts (comma-separated). */
export const ALLOWED_REALM_HOSTS_ENV = 'HIGRESS_PLUGIN_ALLOWED_REALM_HOSTS';
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function hostnameOf(hostPort: string): string {
  try {
    return new URL(`http://${hostPort}`).hostname.toLowerCase();
  } catch {
    return hostPort.toLowerCase();
  }
}

/** Sends registry requests with authentication. One instance per registry client. */
export class AuthClient {
  private readonly hosts = new Map<string, HostState>();
  private readonly credentialCache = new Map<string, Promise<Credential | undefined>>();
  constructor(private readonly options: AuthClientOptions) {}

  /** The credential for `registry` (asked once per client). */
  credential(registry: string): Promise<Credential | undefined> {
    let c = this.credentialCache.get(registry);
    if (!c) this.credentialCache.set(registry, (c = this.options.credentials(registry)));
    return c;
  }

  /**
   * Sends `req` to `registry` with the authorization the registry asked for before; on a 401,
   * authenticates for `scopes` (e.g. `repository:a/b:pull,push`) and replays once. A 401 that
   * survives the replay is returned to the caller, which turns it into an error.
   */
  async send(registry: string, req: HttpRequest, scopes: string[]): Promise<HttpResponse> {
    const state = this.state(registry);
    const scopeKey = mergeScopes(scopes).join(' ');
    let auth = this.cachedAuthorization(state, scopeKey);
    // A Bearer registry seen before: get the token for new scopes up front, saving the 401 round trip.
    if (!auth && state.scheme === 'bearer' && state.challenge) auth = await this.authorize(registry, state, state.challenge, scopes, scopeKey);
    const res = await this.raw(req, auth);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(header(res, 'www-authenticate'));
    await drain(res);
    if (!challenge) return this.raw(req, undefined);
    auth = await this.authorize(registry, state, challenge, scopes, scopeKey, auth);
    if (!auth) return this.raw(req, undefined);
    return this.raw(req, auth);
  }

  private async raw(req: HttpRequest, authorization: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'higress-plugin', ...req.headers };
    if (authorization) headers.authorization = authorization;
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await send({ ...req, headers }, this.options.dispatcher, this.options.timeoutMs);
        // Transient registry answers are retried for reads, as oras-go's retry policy does.
        if (idempotent && attempt < RETRIES && (res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504)) {
          const after = Number(header(res, 'retry-after'));
          await drain(res);
          await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 2000) : backoff(attempt));
          continue;
        }
        return res;
      } catch (err) {
        // A reused keep-alive connection the server had just closed, or a reset: retry reads.
        if (!idempotent || attempt >= RETRIES || !(err instanceof RegistryUnreachableError) || !isTransient(err.cause)) throw err;
        await sleep(backoff(attempt));
      }
    }
  }

  private state(registry: string): HostState {
    let s = this.hosts.get(registry);
    if (!s) this.hosts.set(registry, (s = { tokens: new Map(), pending: new Map() }));
    return s;
  }

  private cachedAuthorization(state: HostState, scopeKey: string): string | undefined {
    if (state.scheme === 'basic') return state.basic;
    if (state.scheme === 'bearer') {
      const now = Date.now();
      const t = state.tokens.get(scopeKey);
      if (t && t.expiresAt > now) return `Bearer ${t.token}`;
      // A token granted for more (pull,push) also serves a request that needs less (pull).
      const wanted = scopeKey.split(' ');
      for (const [key, tok] of state.tokens) {
        if (tok.expiresAt <= now) continue;
        const merged = mergeScopes([key, ...wanted]).join(' ');
        if (merged === key) return `Bearer ${tok.token}`;
      }
    }
    return undefined;
  }

  /** `rejected` is the authorization the registry just refused; a different cached one (obtained meanwhile by a parallel request) is reused. */
  private async authorize(registry: string, state: HostState, challenge: Challenge, scopes: string[], scopeKey: string, rejected?: string): Promise<string | undefined> {
    const cred = await this.credential(registry);
    if (challenge.scheme === 'basic') {
      if (!cred?.username && !cred?.password) return undefined;
      state.scheme = 'basic';
      state.basic = `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}`;
      return state.basic;
    }
    if (challenge.scheme === 'bearer') {
      state.scheme = 'bearer';
      // Keep realm and service for later requests; scope and error belong to this one answer.
      state.challenge = { scheme: 'bearer', params: { realm: challenge.params.realm, ...(challenge.params.service ? { service: challenge.params.service } : {}) } };
      if (cred?.registryToken) return `Bearer ${cred.registryToken}`;
      this.checkRealm(registry, challenge.params.realm);
      const all = mergeScopes([...scopes, ...(challenge.params.scope ? [challenge.params.scope] : [])]);
      const key = all.join(' ');
      const cached = this.cachedAuthorization(state, key);
      if (cached && cached !== rejected) return cached;
      // Parallel requests for the same scopes share one token request.
      let pending = state.pending.get(key);
      if (!pending) {
        pending = this.fetchToken(challenge, all, cred).then(({ token, expiresIn }) => {
          // Refresh a little early so a token does not expire between check and use.
          const entry = { token, expiresAt: Date.now() + Math.max(0, expiresIn - 10) * 1000 };
          state.tokens.set(key, entry);
          if (key !== scopeKey) state.tokens.set(scopeKey, entry);
          return token;
        }).finally(() => state.pending.delete(key));
        state.pending.set(key, pending);
      }
      return `Bearer ${await pending}`;
    }
    throw new OciError('HP_OCI_AUTH_SCHEME', `registry ${registry} asks for unsupported auth scheme "${challenge.scheme}"`);
  }

  /** Refuses a token service on another host than the registry's unless that host is allowed (it would receive the credentials). */
  private checkRealm(registry: string, realm: string | undefined): void {
    if (!realm) return;
    let realmHost: string;
    try {
      realmHost = new URL(realm).hostname.toLowerCase();
    } catch {
      throw new OciError('HP_OCI_AUTH_REALM', `registry ${registry} sent an invalid token realm`);
    }
    const own = hostnameOf(registry);
    if (realmHost === own) return;
    const allowed = this.options.allowedRealmHosts ?? (process.env[ALLOWED_REALM_HOSTS_ENV] ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    if (allowed.includes(realmHost)) return;
    if (DOCKER_HUB.has(own) && realmHost === 'auth.docker.io') return;
    throw new OciError('HP_OCI_AUTH_REALM', `registry ${registry} sends the token flow to another host (${realmHost}); not following it with your credentials. To allow it, set ${ALLOWED_REALM_HOSTS_ENV}=${realmHost}`);
  }

  /** Token request: GET realm?service&scope (Basic if we have a password), or the OAuth2 refresh-token POST. */
  private async fetchToken(challenge: Challenge, scopes: string[], cred: Credential | undefined): Promise<{ token: string; expiresIn: number }> {
    const realm = challenge.params.realm;
    if (!realm) throw new OciError('HP_OCI_AUTH_SCHEME', 'Bearer challenge without a realm');
    const url = new URL(realm);
    let req: HttpRequest;
    if (cred?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'higress-plugin' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      req = { method: 'POST', url: url.href, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred?.username || cred?.password) {
        headers.authorization = `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}`;
      }
      req = { method: 'GET', url: url.href, headers };
    }
    const res = await send(req, this.options.dispatcher, this.options.timeoutMs);
    const body = await readBody(res, 1 << 20, 'token response');
    if (res.status !== 200) {
      const hint = res.status === 401 ? (cred ? 'the token service rejected the credentials: check username and password' : 'the token service needs credentials: pass -u/-p or log in') : undefined;
      throw new ErrorResponse(req.method, url.origin + url.pathname, res.status, parseErrorBody(body.toString('utf8')), hint);
    }
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new OciError('HP_OCI_AUTH_TOKEN', `token service ${url.origin} answered invalid JSON`, { cause: err });
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new OciError('HP_OCI_AUTH_TOKEN', `token service ${url.origin} answered without a token`);
    // token.md: when expires_in is absent the token lives 60 s.
    return { token, expiresIn: typeof parsed.expires_in === 'number' ? parsed.expires_in : 60 };
  }
}
