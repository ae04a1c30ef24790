/**
 * Route matching: host (exact or `*.` wildcard), path (Exact, Prefix by path element, regex),
 * method, headers and query parameters, in Gateway API precedence order. Compiled once per
 * snapshot; `match` allocates nothing on the common path.
 */
import { CorsPolicy } from './cors.js';
import { addressMatcher } from './source-range.js';
import type { ModelCanary, ModelHeaderMatch, ModelQueryMatch, ModelRewrite, ModelRoute, WeightedCluster } from './config-model.js';

/** A route compiled for matching. */
export interface CompiledRoute {
  model: ModelRoute;
  pathRegex?: RegExp;
  headerRegex: Array<RegExp | undefined>;
  queryRegex: Array<RegExp | undefined>;
  canaryPattern?: RegExp;
  rewriteRegex?: RegExp;
  cors?: CorsPolicy;
  /** Whether a client address may use the route (absent: any may). */
  sourceAllowed?: (address: string) => boolean;
  totalWeight: number;
  canaryTotalWeight: number;
  /** Index in the config (tie breaker: earlier wins). */
  order: number;
}

/** Header access the router needs: lower-case name → value (first value when repeated). */
export type HeaderGetter = (name: string) => string | undefined;

/**
 * Header `name` of a request as Envoy's route matching sees it: the pseudo-headers
 * `:authority`, `:path` (with the query), `:method` and `:scheme` over every HTTP version, else
 * the first value of the header.
 */
export function requestHeader(req: { headers: Record<string, string | string[] | undefined>; method?: string; url?: string },
  name: string, authority: string, tls: boolean): string | undefined {
  if (name.charCodeAt(0) === 58) {
    switch (name) {
      case ':authority': return authority;
      case ':path': return req.url;
      case ':method': return req.method;
      case ':scheme': return tls ? 'https' : 'http';
    }
    return undefined;
  }
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Strips the port from an `:authority` (IPv6-aware) and lower-cases it. */
export function hostOf(authority: string | undefined): string {
  if (!authority) return '';
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf(']');
    return end > 0 ? authority.slice(0, end + 1).toLowerCase() : authority.toLowerCase();
  }
  const colon = authority.lastIndexOf(':');
  return (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
}

function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function compile(route: ModelRoute, order: number): CompiledRoute {
  const sum = (list: WeightedCluster[]) => list.reduce((a, b) => a + b.weight, 0);
  return {
    model: route,
    pathRegex: route.path.type === 'RegularExpression' ? anchored(route.path.value) : undefined,
    headerRegex: route.headers.map((h) => (h.type === 'RegularExpression' ? anchored(h.value) : undefined)),
    queryRegex: route.query.map((q) => (q.type === 'RegularExpression' ? anchored(q.value) : undefined)),
    canaryPattern: route.canary?.headerPattern ? anchored(route.canary.headerPattern) : undefined,
    rewriteRegex: route.rewrite?.regex ? new RegExp(route.rewrite.regex.pattern) : undefined,
    cors: route.cors ? new CorsPolicy(route.cors) : undefined,
    sourceAllowed: route.allowSources ? addressMatcher(route.allowSources) : undefined,
    totalWeight: sum(route.backends),
    canaryTotalWeight: route.canary ? sum(route.canary.backends) : 0,
    order,
  };
}

/** Gateway API precedence: Exact path, then longer path, then method, more headers, more query params. */
function precedence(a: CompiledRoute, b: CompiledRoute): number {
  const ka = a.model.path.type === 'Exact' ? 0 : 1;
  const kb = b.model.path.type === 'Exact' ? 0 : 1;
  if (ka !== kb) return ka - kb;
  const la = a.model.path.value.length;
  const lb = b.model.path.value.length;
  if (la !== lb) return lb - la;
  const ma = a.model.methods ? 0 : 1;
  const mb = b.model.methods ? 0 : 1;
  if (ma !== mb) return ma - mb;
  if (a.model.headers.length !== b.model.headers.length) return b.model.headers.length - a.model.headers.length;
  if (a.model.query.length !== b.model.query.length) return b.model.query.length - a.model.query.length;
  return a.order - b.order;
}

function pathMatches(r: CompiledRoute, path: string): boolean {
  const p = r.model.path;
  if (p.type === 'Exact') return path === p.value;
  if (p.type === 'Prefix') {
    const v = p.value;
    if (v === '/' || v === '') return true;
    if (!path.startsWith(v)) return false;
    if (path.length === v.length || v.charCodeAt(v.length - 1) === 47) return true;
    return path.charCodeAt(v.length) === 47; // element-wise: /foo matches /foo/x, not /foobar
  }
  return r.pathRegex!.test(path);
}

/** A header or query value against a match compiled with `re` (its regex, if it is one). */
function valueMatches(m: ModelHeaderMatch | ModelQueryMatch, re: RegExp | undefined, value: string): boolean {
  return re ? re.test(value) : m.type === 'Prefix' ? value.startsWith(m.value) : value === m.value;
}

function headerMatches(h: ModelHeaderMatch, re: RegExp | undefined, value: string | undefined): boolean {
  const ok = value !== undefined && valueMatches(h, re, value);
  return h.invert ? !ok : ok;
}

/** Routes for one snapshot. */
export class Router {
  private readonly exact = new Map<string, CompiledRoute[]>();
  private readonly wildcard: Array<{ suffix: string; routes: CompiledRoute[] }> = [];
  private readonly anyHost: CompiledRoute[] = [];

  constructor(routes: ModelRoute[]) {
    const compiled = routes.map(compile);
    const byExact = new Map<string, CompiledRoute[]>();
    const byWild = new Map<string, CompiledRoute[]>();
    for (const r of compiled) {
      if (r.model.hosts.length === 0) this.anyHost.push(r);
      for (const h of r.model.hosts) {
        const host = h.toLowerCase();
        const target = host.startsWith('*.') ? byWild : byExact;
        const key = host.startsWith('*.') ? host.slice(1) : host;
        let list = target.get(key);
        if (!list) target.set(key, (list = []));
        list.push(r);
      }
    }
    for (const [k, v] of byExact) this.exact.set(k, v.sort(precedence));
    for (const [k, v] of byWild) this.wildcard.push({ suffix: k, routes: v.sort(precedence) });
    this.wildcard.sort((a, b) => b.suffix.length - a.suffix.length); // most specific wildcard first
    this.anyHost.sort(precedence);
  }

  /**
   * Finds the route for a request. `path` excludes the query string; `query` is the raw query
   * (without `?`), parsed only when a candidate route has query matches.
   */
  match(host: string, method: string, path: string, query: string, header: HeaderGetter): CompiledRoute | undefined {
    const exact = this.exact.get(host);
    if (exact) {
      const r = this.first(exact, method, path, query, header);
      if (r) return r;
    }
    for (const w of this.wildcard) {
      if (host.endsWith(w.suffix) && host.length > w.suffix.length) {
        const r = this.first(w.routes, method, path, query, header);
        if (r) return r;
      }
    }
    return this.first(this.anyHost, method, path, query, header);
  }

  private first(list: CompiledRoute[], method: string, path: string, query: string, header: HeaderGetter): CompiledRoute | undefined {
    let params: URLSearchParams | undefined;
    outer: for (const r of list) {
      const m = r.model;
      if (m.methods && !m.methods.includes(method)) continue;
      if (!pathMatches(r, path)) continue;
      for (let i = 0; i < m.headers.length; i++) {
        if (!headerMatches(m.headers[i], r.headerRegex[i], header(m.headers[i].name))) continue outer;
      }
      if (m.query.length) {
        params ??= new URLSearchParams(query);
        for (let i = 0; i < m.query.length; i++) {
          const v = params.get(m.query[i].name);
          if (v === null || !valueMatches(m.query[i], r.queryRegex[i], v)) continue outer;
        }
      }
      return r;
    }
    return undefined;
  }
}

function pickWeighted(list: WeightedCluster[], total: number): string {
  if (list.length === 1) return list[0].cluster;
  let n = Math.random() * total;
  for (const b of list) {
    n -= b.weight;
    if (n < 0) return b.cluster;
  }
  return list[list.length - 1].cluster;
}

/** The backend chosen for one request (canary decided here). */
export interface RouteTarget { cluster: string; canary: boolean }

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(cookies: string | undefined, name: string): string | undefined {
  if (!cookies) return undefined;
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const toCanary = (r: CompiledRoute): RouteTarget => ({ cluster: pickWeighted(r.model.canary!.backends, r.canaryTotalWeight), canary: true });
const toPrimary = (r: CompiledRoute): RouteTarget => ({ cluster: pickWeighted(r.model.backends, r.totalWeight), canary: false });

/** Chooses the cluster: canary header first (`always`/`never`/value/pattern), then canary cookie (`always`/`never`), then canary weight, then the weighted backends. */
export function chooseCluster(r: CompiledRoute, header: HeaderGetter): RouteTarget {
  const c: ModelCanary | undefined = r.model.canary;
  if (c) {
    if (c.header) {
      const v = header(c.header);
      if (v !== undefined) {
        if (c.headerValue !== undefined || r.canaryPattern) {
          if ((c.headerValue !== undefined && v === c.headerValue) || (r.canaryPattern && r.canaryPattern.test(v))) return toCanary(r);
        } else if (v === 'always') return toCanary(r);
        else if (v === 'never') return toPrimary(r);
      }
    }
    if (c.cookie) {
      const v = cookieValue(header('cookie'), c.cookie);
      if (v === 'always') return toCanary(r);
      if (v === 'never') return toPrimary(r);
    }
    if (c.weight > 0 && Math.random() * 100 < c.weight) return toCanary(r);
  }
  return toPrimary(r);
}

/** Applies the route's (or canary's) rewrite to a path (with query); returns the new path. */
export function rewritePath(r: CompiledRoute, canary: boolean, pathAndQuery: string, path: string): string {
  const rw = canary && r.model.canary?.rewrite ? r.model.canary.rewrite : r.model.rewrite;
  if (!rw) return pathAndQuery;
  if (rw.regex) {
    const query = pathAndQuery.length > path.length ? pathAndQuery.slice(path.length) : '';
    const re = canary && r.model.canary?.rewrite ? new RegExp(rw.regex.pattern) : r.rewriteRegex!;
    const out = path.replace(re, rw.regex.substitution);
    return (out || '/') + query;
  }
  return replacePath(r, rw, pathAndQuery, path);
}

/** A path (with query) with `rw`'s full path or prefix replacement (the prefix is the route's matched one); the query is kept. */
export function replacePath(r: CompiledRoute, rw: ModelRewrite, pathAndQuery: string, path: string): string {
  const query = pathAndQuery.length > path.length ? pathAndQuery.slice(path.length) : '';
  if (rw.fullPath !== undefined) return rw.fullPath + query;
  if (rw.prefix !== undefined) {
    const prefix = r.model.path.type === 'Prefix' ? r.model.path.value : '';
    let rest = path.slice(prefix.length);
    let np = rw.prefix;
    if (np.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
    else if (!np.endsWith('/') && rest && !rest.startsWith('/')) np += '/';
    const out = np + rest;
    return (out || '/') + query;
  }
  return pathAndQuery;
}
