/**
 * Ingress annotations as Higress reads them (its annotation parsers are the reference): the
 * `nginx.ingress.kubernetes.io/` and `higress.io/` forms alike, Higress's own ones under
 * `higress.io/` only, each turned into the part of a route or service it configures.
 */
import { retryPolicy, RETRY_BACKOFF_MS, type ModelCors, type ModelHeaderMods, type ModelLoadBalancer, type ModelRedirect, type ModelRetry, type ModelRewrite, type ModelRoute } from './config-model.js';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';

type Obj = Record<string, unknown>;

const ANN = 'nginx.ingress.kubernetes.io/';

/** An Ingress's annotations by short name. Higress reads `nginx.ingress.kubernetes.io/<name>` and
 * `higress.io/<name>` alike; when both are set, the nginx one wins. */
export interface Annotations {
  get(name: string): string | undefined;
  /** An annotation Higress reads only as `higress.io/<name>` (its own, such as `timeout`). */
  higress(name: string): string | undefined;
  /** `higress.io/<prefix><rest>` annotations as [rest, value] pairs. */
  higressPrefixed(prefix: string): Array<[string, string]>;
  /** The field path of an annotation, for errors. */
  field(name: string): string;
}

const HIGRESS = 'higress.io/';

/** The annotations in an Ingress's `metadata`. */
export function annotationsOf(meta: Obj): Annotations {
  const raw = (meta.annotations as Obj | undefined) ?? {};
  const keys = new Map<string, string>();
  for (const prefix of [HIGRESS, ANN]) {
    for (const k of Object.keys(raw)) if (k.startsWith(prefix)) keys.set(k.slice(prefix.length), k);
  }
  const value = (k: string | undefined) => (k === undefined || raw[k] == null ? undefined : String(raw[k]));
  return {
    get: (name) => value(keys.get(name)),
    higress: (name) => value(HIGRESS + name),
    higressPrefixed: (prefix) => Object.keys(raw).filter((k) => k.startsWith(HIGRESS + prefix) && raw[k] != null)
      .map((k) => [k.slice(HIGRESS.length + prefix.length), String(raw[k])]),
    field: (name) => `metadata.annotations["${keys.get(name) ?? ANN + name}"]`,
  };
}

/** `rewrite-target`: replaces the matched prefix, or with a regex path is its substitution (`$1`...). */
export function ingressRewrite(ann: Annotations, path: { type: ModelRoute['path']['type']; value: string }): ModelRewrite | undefined {
  const target = ann.get('rewrite-target');
  if (target === undefined) return undefined;
  if (path.type === 'RegularExpression') return { regex: { pattern: `^(?:${path.value})`, substitution: target } };
  return { prefix: target };
}

/**
 * `temporal-redirect` (302; it wins, as in Higress) or `permanent-redirect` (301, or
 * `permanent-redirect-code`). Higress turns the URL into an Istio HTTPRedirect: its scheme and
 * host replace the request's, its path (when it has one) replaces the request's path, and the
 * request's query is kept. So `http://bar.com` sends `/foo?x=1` to `http://bar.com/foo?x=1`.
 */
export function ingressRedirect(ann: Annotations, where: ConfigLocation): ModelRedirect | undefined {
  const key = ann.get('temporal-redirect') !== undefined ? 'temporal-redirect' : ann.get('permanent-redirect') !== undefined ? 'permanent-redirect' : undefined;
  if (!key) return undefined;
  const url = ann.get(key)!;
  const m = /^https?:\/\/[^/?#]+(\/[^?#]*)?/i.exec(url);
  const u = m ? URL.parse(url) : null;
  if (!u) throw new ConfigError(CONFIG_CODES.schema, `${key} must be an http:// or https:// URL, not "${url}"`, { ...where, field: ann.field(key) });
  let status = 302;
  if (key === 'permanent-redirect') {
    status = Number(ann.get('permanent-redirect-code') ?? 301);
    if (!(status >= 300 && status <= 308)) throw new ConfigError(CONFIG_CODES.schema, `permanent-redirect-code must be a 3xx redirect status, not ${ann.get('permanent-redirect-code')}`, { ...where, field: ann.field('permanent-redirect-code') });
  }
  return { status, scheme: u.protocol.slice(0, -1), hostname: u.hostname, port: u.port ? Number(u.port) : undefined, path: m![1] ? { fullPath: m![1] } : undefined };
}

/**
 * `proxy-next-upstream-tries` (retries, default 3), `proxy-next-upstream` (`error`, `timeout`,
 * `invalid_header` → Envoy `5xx`; `http_503` and the like → that status; `off` → no retry) and
 * `proxy-next-upstream-timeout` (seconds per try), as Higress turns them into a route's retries.
 */
export function ingressRetry(ann: Annotations, where: ConfigLocation): ModelRetry | undefined {
  const tries = ann.get('proxy-next-upstream-tries');
  const on = ann.get('proxy-next-upstream');
  const timeout = ann.get('proxy-next-upstream-timeout');
  if (tries === undefined && on === undefined && timeout === undefined) return undefined;
  const count = (name: string, v: string | undefined, dflt: number): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(CONFIG_CODES.schema, `${name} must be a whole number, not ${v}`, { ...where, field: ann.field(name) });
    return n;
  };
  const conditions = on === undefined ? ['error'] : on.split(on.includes(',') ? ',' : /\s+/).map((c) => c.trim()).filter(Boolean);
  const retryOn: Array<string | number> = [];
  if (conditions.some((c) => c === 'error' || c === 'timeout' || c === 'invalid_header')) retryOn.push('5xx');
  for (const c of conditions) if (/^http_\d{3}$/.test(c)) retryOn.push(Number(c.slice(5)));
  const perTry = count('proxy-next-upstream-timeout', timeout, 0) * 1000;
  return retryPolicy(conditions.includes('off') ? 0 : count('proxy-next-upstream-tries', tries, 3), retryOn, RETRY_BACKOFF_MS, perTry || undefined);
}

/**
 * Higress's `request-header-control-*` / `response-header-control-*` annotations for one
 * direction: `add` and `update` list one `name value` per line (quotes around either are
 * dropped), `remove` is comma-separated.
 */
export function ingressHeaderControl(ann: Annotations, dir: 'request' | 'response'): ModelHeaderMods | undefined {
  const lines = (name: string): Array<[string, string]> => (ann.higress(`${dir}-header-control-${name}`) ?? '').split('\n').flatMap((line) => {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    return m ? [[unquote(m[1]).toLowerCase(), unquote(m[2].trim())] as [string, string]] : [];
  });
  const mods = { add: lines('add'), set: lines('update'), remove: (ann.higress(`${dir}-header-control-remove`) ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean) };
  return mods.add.length || mods.set.length || mods.remove.length ? mods : undefined;
}

function unquote(s: string): string {
  return s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0] ? s.slice(1, -1) : s;
}

/** `higress.io/timeout`: the route's timeout in seconds (0: none set). */
export function ingressTimeout(ann: Annotations, where: ConfigLocation): number | undefined {
  const v = ann.higress('timeout');
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (!Number.isInteger(seconds) || seconds < 0) throw new ConfigError(CONFIG_CODES.schema, `timeout must be a whole number of seconds, not ${v}`, { ...where, field: `metadata.annotations["${HIGRESS}timeout"]` });
  return seconds * 1000 || undefined;
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/**
 * Higress's match annotations: `higress.io/match-method` (space-separated methods) and
 * `higress.io/{exact,prefix,regex}-match-{header,pseudo-header,query}-<name>`: the Ingress's
 * routes match only requests with those methods, headers (`pseudo-header-authority` is
 * `:authority`) and query parameters.
 */
export function ingressMatches(ann: Annotations, where: ConfigLocation): Pick<ModelRoute, 'methods' | 'headers' | 'query'> {
  const methods = [...new Set((ann.higress('match-method') ?? '').split(' ').map((m) => m.toUpperCase()).filter((m) => HTTP_METHODS.has(m)))];
  const matches = (kind: 'header' | 'pseudo-header' | 'query') => (['exact', 'prefix', 'regex'] as const).flatMap((type) =>
    ann.higressPrefixed(`${type}-match-${kind}-`).map(([name, value]) => {
      if (type === 'regex') {
        try { new RegExp(value); } catch (err) { throw new ConfigError(CONFIG_CODES.schema, `bad regex: ${(err as Error).message}`, { ...where, field: `metadata.annotations["${HIGRESS}regex-match-${kind}-${name}"]` }); }
      }
      return {
        name: kind === 'query' ? name : `${kind === 'pseudo-header' ? ':' : ''}${name.toLowerCase()}`,
        type: type === 'exact' ? 'Exact' as const : type === 'prefix' ? 'Prefix' as const : 'RegularExpression' as const,
        value,
      };
    }));
  return { methods: methods.length ? methods : undefined, headers: [...matches('header'), ...matches('pseudo-header')], query: matches('query') };
}

/**
 * `load-balance` (`round_robin`, `least_conn` / `least_request`, `random`), `upstream-hash-by`
 * (`$request_uri`, `$host`, `$remote_addr`, `$http_<header>`, `$arg_<param>`) or
 * `affinity: cookie` (+ `session-cookie-name`, default INGRESSCOOKIE; `-path`, default `/`;
 * `-max-age` or `-expires`, seconds, default a session cookie), as Higress turns them into its
 * services' load balancer. Cookie affinity wins over hashing, which wins over `load-balance`.
 */
export function ingressLoadBalancer(ann: Annotations): ModelLoadBalancer | undefined {
  if (ann.get('affinity') === 'cookie') {
    const age = Number(ann.get('session-cookie-max-age') ?? ann.get('session-cookie-expires') ?? 0);
    return { policy: 'round_robin', hash: { cookie: { name: ann.get('session-cookie-name') ?? 'INGRESSCOOKIE', path: ann.get('session-cookie-path') ?? '/', ttlSeconds: Number.isInteger(age) && age > 0 ? age : 0 } } };
  }
  const by = ann.get('upstream-hash-by');
  if (by?.startsWith('$')) {
    if (by === '$remote_addr') return { policy: 'round_robin', hash: { sourceIp: true } };
    if (by === '$request_uri') return { policy: 'round_robin', hash: { header: ':path' } };
    if (by === '$host') return { policy: 'round_robin', hash: { header: ':authority' } };
    if (by.startsWith('$http_')) return { policy: 'round_robin', hash: { header: by.slice(6).toLowerCase() } };
    if (by.startsWith('$arg_')) return { policy: 'round_robin', hash: { query: by.slice(5) } };
  }
  const lb = ann.get('load-balance')?.toLowerCase();
  if (lb === undefined) return undefined;
  return { policy: lb === 'least_conn' || lb === 'least_request' ? 'least_request' : lb === 'random' ? 'random' : 'round_robin' };
}

/** `enable-cors: "true"` and the `cors-*` annotations, with ingress-nginx's defaults. */
export function ingressCors(ann: Annotations, where: ConfigLocation): ModelCors | undefined {
  if (ann.get('enable-cors') !== 'true') return undefined;
  const maxAge = Number(ann.get('cors-max-age') ?? 1728000);
  if (!Number.isInteger(maxAge) || maxAge < 0) throw new ConfigError(CONFIG_CODES.schema, `cors-max-age must be a number of seconds, not ${ann.get('cors-max-age')}`, { ...where, field: ann.field('cors-max-age') });
  return {
    allowOrigins: (ann.get('cors-allow-origin') ?? '*').split(',').map((s) => s.trim()).filter(Boolean),
    allowMethods: ann.get('cors-allow-methods') ?? 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
    allowHeaders: ann.get('cors-allow-headers') ?? 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
    exposeHeaders: ann.get('cors-expose-headers') ?? '',
    allowCredentials: (ann.get('cors-allow-credentials') ?? 'true') === 'true',
    maxAgeSeconds: maxAge,
  };
}

