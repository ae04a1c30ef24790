/**
 * The request changes Envoy's router applies after the HTTP filters ran: the route's (or its
 * canary's) path and authority rewrite, then the route's request header modifiers. Plugins see
 * the request as the client sent it; the upstream sees it rewritten.
 */
import type { HeaderList } from '../host/types.js';
import type { ModelHeaderMods, ModelLoadBalancer } from './config-model.js';
import { findHeader, removeHeader, setHeader } from './proxy-headers.js';
import { cookieValue, hostOf, replacePath, rewritePath, type CompiledRoute } from './router.js';

/** Applies header modifiers in Gateway API order: remove, set, add. Missing `mods` = no change. */
export function applyHeaderMods(list: HeaderList, mods: ModelHeaderMods | undefined): void {
  if (!mods) return;
  if (mods.remove) for (const n of mods.remove) removeHeader(list, n);
  if (mods.set) for (const [k, v] of mods.set) setHeader(list, k, v);
  if (mods.add) for (const [k, v] of mods.add) list.push([k, v]);
}

/**
 * The `Location` of the route's RequestRedirect for a request as the plugins left it, by the
 * Gateway API rules: what the redirect leaves unset comes from the request; without a port, a
 * redirect that sets the scheme uses that scheme's port, else the listener's; the port is left
 * out when it is the scheme's default.
 */
function redirectLocation(headers: HeaderList, route: CompiledRoute, scheme: string, listenerPort: number): string {
  const rd = route.model.redirect!;
  const pIdx = findHeader(headers, ':path');
  const pathAndQuery = pIdx >= 0 ? headers[pIdx][1] : '/';
  const qi = pathAndQuery.indexOf('?');
  const path = rd.path ? replacePath(route, rd.path, pathAndQuery, qi < 0 ? pathAndQuery : pathAndQuery.slice(0, qi)) : pathAndQuery;
  const aIdx = findHeader(headers, ':authority');
  const host = rd.hostname ?? hostOf(aIdx >= 0 ? headers[aIdx][1] : '');
  const outScheme = rd.scheme ?? scheme;
  const port = rd.port ?? (rd.scheme ? undefined : listenerPort);
  const shown = port === undefined || port === (outScheme === 'https' ? 443 : 80) ? '' : `:${port}`;
  return `${outScheme}://${host}${shown}${path}`;
}

/**
 * The route's own answer instead of proxying, if it has one: its fixed answer (`direct`), or its
 * redirect (a `plainOnly` one only for requests that came over plain HTTP).
 */
export function routeAnswer(headers: HeaderList, route: CompiledRoute, tls: boolean, listenerPort: number): { status: number; body: string; location?: string } | undefined {
  const m = route.model;
  if (m.direct) return m.direct;
  if (!m.redirect || (m.redirect.plainOnly && tls)) return undefined;
  return { status: m.redirect.status, body: '', location: redirectLocation(headers, route, tls ? 'https' : 'http', listenerPort) };
}

/**
 * Rewrites `:path` and `:authority` in place and applies the route's request header modifiers.
 * The path is taken from `:path` as the plugins left it (a plugin may have changed it).
 */
export function applyRouterStage(headers: HeaderList, route: CompiledRoute, canary: boolean): void {
  const pIdx = findHeader(headers, ':path');
  if (pIdx >= 0) {
    const pathAndQuery = headers[pIdx][1];
    const qi = pathAndQuery.indexOf('?');
    headers[pIdx][1] = rewritePath(route, canary, pathAndQuery, qi < 0 ? pathAndQuery : pathAndQuery.slice(0, qi));
  }
  const rw = canary && route.model.canary?.rewrite ? route.model.canary.rewrite : route.model.rewrite;
  if (rw?.host) {
    const aIdx = findHeader(headers, ':authority');
    if (aIdx >= 0) headers[aIdx][1] = rw.host;
    else headers.unshift([':authority', rw.host]);
  }
  applyHeaderMods(headers, route.model.requestHeaders);
}

/**
 * The key a cluster's consistent hashing takes from a request (as the plugins and the router left
 * it): a header (`:path`, `:authority` included), a query parameter, a cookie or the client
 * address. Undefined when the request has none.
 */
export function balanceKey(hash: NonNullable<ModelLoadBalancer['hash']>, headers: HeaderList, clientAddress: string): string | undefined {
  if (hash.sourceIp) return clientAddress;
  const value = (name: string): string | undefined => {
    const i = findHeader(headers, name);
    return i < 0 ? undefined : headers[i][1];
  };
  if (hash.cookie) return cookieValue(value('cookie'), hash.cookie.name);
  if (hash.query) {
    const path = value(':path') ?? '';
    const qi = path.indexOf('?');
    return qi < 0 ? undefined : new URLSearchParams(path.slice(qi + 1)).get(hash.query) ?? undefined;
  }
  return value(hash.header!);
}
