/**
 * A route's CORS policy (the Ingress `enable-cors` / `cors-*` annotations, the HTTPRoute `CORS`
 * filter), applied the way Higress applies it, with Envoy's CORS filter, which runs before the
 * Wasm plugins: a preflight from an allowed origin is answered at once (no plugin, no upstream);
 * any other request from an allowed origin gets the CORS headers on whatever answers it (the
 * upstream, a plugin's local response, a gateway error). Requests from other origins pass
 * unchanged.
 */
import type { ModelCors } from './config-model.js';

export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly exact: Set<string>;
  private readonly wildcards: RegExp[];

  constructor(private readonly model: ModelCors) {
    this.anyOrigin = model.allowOrigins.includes('*');
    this.exact = new Set(model.allowOrigins.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()));
    // `https://*.example.com` allows any subdomain of example.com (ingress-nginx's wildcard form).
    this.wildcards = model.allowOrigins.filter((o) => o !== '*' && o.includes('*')).map((o) =>
      new RegExp(`^${o.toLowerCase().split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[a-z0-9-]+(?:\\.[a-z0-9-]+)*')}$`));
  }

  /** True when `origin` (the request's Origin header) may read the answers. */
  allows(origin: string): boolean {
    if (this.anyOrigin) return true;
    const o = origin.toLowerCase();
    return this.exact.has(o) || this.wildcards.some((re) => re.test(o));
  }

  /** Headers of the answer to a preflight from an allowed origin. */
  preflightHeaders(origin: string): Array<[string, string]> {
    const m = this.model;
    const out: Array<[string, string]> = [['access-control-allow-origin', origin]];
    if (m.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
    if (m.allowMethods) out.push(['access-control-allow-methods', m.allowMethods]);
    if (m.allowHeaders) out.push(['access-control-allow-headers', m.allowHeaders]);
    out.push(['access-control-max-age', String(m.maxAgeSeconds)]);
    return out;
  }

  /** Headers set on the response to a request from an allowed origin. */
  responseHeaders(origin: string): Array<[string, string]> {
    const m = this.model;
    const out: Array<[string, string]> = [['access-control-allow-origin', origin]];
    if (m.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
    if (m.exposeHeaders) out.push(['access-control-expose-headers', m.exposeHeaders]);
    return out;
  }
}
