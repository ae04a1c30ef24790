/**
 * Turns configuration documents (Kubernetes manifests as Higress users apply them, and the
 * native form) into one validated {@link ConfigModel}. Everything is checked here: schema,
 * references between objects, certificates. Plugins are fetched later, by the control plane.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { FailStrategy } from '../host/types.js';
import {
  clusterName, DEFAULT_GZIP, DEFAULT_SETTINGS, retryPolicy, RETRY_BACKOFF_MS, type ConfigModel, type ModelCanary, type ModelCertificate, type ModelCluster,
  type ModelHeaderMods, type ModelHttp2, type ModelCors, type ModelListener, type ModelPlugin, type ModelLoadBalancer, type ModelRedirect, type ModelRetry, type ModelRewrite, type ModelRoute, type PluginPhase,
  type UpstreamProtocol, type WeightedCluster,
} from './config-model.js';
import { listConfigFiles, readConfigDocuments, type ConfigDocument } from './config-files.js';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';
import {
  annotationsOf, ingressCors, ingressHeaderControl, ingressLoadBalancer, ingressMatches, ingressRedirect, ingressRetry, ingressRewrite,
  ingressTimeout, type Annotations,
} from './ingress-annotations.js';
import { higressConfigMap, type HigressGlobal } from './higress-config.js';
import { kubeServicePorts, sliceSubset, type EndpointSubset } from './kube-services.js';
import { checkCertificates } from './listener.js';
import { parseCidr } from './source-range.js';
import { validateAgainst } from './schema-validate.js';
import { buildPluginConfig } from './wasm-plugin-config.js';

/** Command-line values that fill in what the files leave out. */
export interface LoadOptions {
  /** Port of the default plain listener when no file defines listeners; default 8080. */
  port?: number;
  /** Port of the TLS listener made for Ingress `tls` sections; default 8443. */
  httpsPort?: number;
  /** Bind address of default listeners; default 0.0.0.0. */
  address?: string;
  /** Admin API port; default 15000 (0 = any free port). */
  adminPort?: number;
  /** Admin API address; default 127.0.0.1. */
  adminAddress?: string;
}

type Obj = Record<string, unknown>;
function ns(meta: Obj): string {
  return (meta.namespace as string | undefined) || 'default';
}

interface Builder {
  clusters: Map<string, ModelCluster>;
  /** Service host (fqdn) → default port + protocol, from native services and McpBridge registries. */
  services: Map<string, { port: number; clusters: Map<number, ModelCluster> }>;
  routes: ModelRoute[];
  plugins: ModelPlugin[];
  listeners: ModelListener[];
  secrets: Map<string, { cert: string; key: string }>;
  ingressTls: Array<{ hosts: string[]; secret: string; where: ConfigLocation }>;
  settings: ConfigModel['settings'];
  admin: ConfigModel['admin'];
  /** Idle timeout of upstream connections where a service sets none. */
  upstreamIdleMs: number;
  /** Port numbers by name, per Kubernetes Service host (for Ingress backends naming a port). */
  portNames: Map<string, Map<string, number>>;
  /** Timeout of routes that set none (Higress's `downstream.routeTimeout`). */
  routeTimeoutMs?: number;
}

const DEFAULT_UPSTREAM_IDLE_MS = 60_000;

function newCluster(fqdn: string, port: number, protocol: UpstreamProtocol, endpoints: ModelCluster['endpoints'], where: ConfigLocation, extra: Partial<ModelCluster> = {}): ModelCluster {
  return {
    name: clusterName(port, fqdn), fqdn, port, protocol, endpoints,
    connectTimeoutMs: 5000, requestTimeoutMs: 15000, idleTimeoutMs: DEFAULT_UPSTREAM_IDLE_MS, tlsVerify: true, source: where, ...extra,
  };
}

function addService(b: Builder, c: ModelCluster): void {
  let s = b.services.get(c.fqdn);
  if (!s) b.services.set(c.fqdn, (s = { port: c.port, clusters: new Map() }));
  s.clusters.set(c.port, c);
  b.clusters.set(c.name, c);
}

/** The cluster for `host[:port]`, creating a same-endpoints cluster for another port of a known service host. */
function resolveCluster(b: Builder, host: string, port: number | undefined, where: ConfigLocation, protocol?: UpstreamProtocol): string {
  const s = b.services.get(host);
  if (!s) {
    throw new ConfigError(CONFIG_CODES.reference, `unknown service "${host}" (define it as a Service, in a McpBridge registry or under native services)`, where);
  }
  const p = port ?? s.port;
  let c = s.clusters.get(p);
  if (!c) {
    const base = s.clusters.get(s.port)!;
    const isStatic = host.endsWith('.static');
    // A static registry lists ip:port endpoints; other ports of a named host reuse its hosts on the new port.
    c = { ...base, name: clusterName(p, host), port: p, endpoints: isStatic ? base.endpoints : base.endpoints.map((e) => ({ ...e, port: p })) };
    s.clusters.set(p, c);
    b.clusters.set(c.name, c);
  }
  if (protocol && c.protocol !== protocol) c.protocol = protocol;
  return c.name;
}

function parseEndpoint(text: string, where: ConfigLocation, defaultPort?: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (m) return { host: m[1], port: Number(m[2]) };
  if (defaultPort) return { host: text.replace(/^\[|\]$/g, ''), port: defaultPort };
  throw new ConfigError(CONFIG_CODES.schema, `endpoint "${text}" must be host:port`, where);
}

function protocolOf(v: string | undefined): UpstreamProtocol | undefined {
  if (!v) return undefined;
  const p = v.toLowerCase();
  if (p === 'http' || p === 'https' || p === 'grpc' || p === 'grpcs' || p === 'h2c' || p === 'h2') return p;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests

/** `<namespace>/<name>` of a Kubernetes object, from its metadata. */
function objectKey(meta: Obj): string {
  return `${ns(meta)}/${meta.name as string}`;
}

/** A Kubernetes Service: a cluster per port (see kube-services.ts). */
function kubeService(b: Builder, doc: Obj, where: ConfigLocation, subsets: EndpointSubset[]): void {
  const meta = doc.metadata as Obj;
  const fqdn = `${meta.name as string}.${ns(meta)}.svc.cluster.local`;
  if (b.services.has(fqdn)) throw new ConfigError(CONFIG_CODES.conflict, `service ${fqdn} is defined twice`, where);
  const names = new Map<string, number>();
  kubeServicePorts(doc, subsets).forEach((p, i) => {
    addService(b, newCluster(fqdn, p.port, p.protocol, p.endpoints, { ...where, field: `spec.ports[${i}]` }, { idleTimeoutMs: b.upstreamIdleMs }));
    if (p.name) names.set(p.name, p.port);
  });
  b.portNames.set(fqdn, names);
}

function mcpBridge(b: Builder, doc: Obj, where: ConfigLocation): void {
  const spec = doc.spec as Obj;
  const regs = (spec.registries as Obj[] | undefined) ?? [];
  regs.forEach((r, i) => {
    const w = { ...where, field: `spec.registries[${i}]` };
    const type = r.type as string;
    const name = r.name as string;
    const protocol = protocolOf(r.protocol as string) ?? 'http';
    if (type === 'static') {
      const eps = String(r.domain).split(',').map((s) => s.trim()).filter(Boolean).map((s) => ({ ...parseEndpoint(s, { ...w, field: `${w.field}.domain` }), weight: 1 }));
      addService(b, newCluster(`${name}.static`, (r.port as number | undefined) ?? 80, protocol, eps, w, { idleTimeoutMs: b.upstreamIdleMs }));
    } else if (type === 'dns') {
      const port = (r.port as number | undefined) ?? 80;
      const eps = String(r.domain).split(',').map((s) => s.trim()).filter(Boolean).map((h) => ({ host: h, port, weight: 1 }));
      addService(b, newCluster(`${name}.dns`, port, protocol, eps, w, { idleTimeoutMs: b.upstreamIdleMs }));
    } else {
      throw new ConfigError(CONFIG_CODES.schema, `registry type "${type}" is not supported by the local gateway (static and dns are)`, { ...w, field: `${w.field}.type` });
    }
  });
}

/** `higress.io/destination`: one `[weight%] host[:port] [subset]` per line. */
function parseDestinations(b: Builder, text: string, where: ConfigLocation, protocol?: UpstreamProtocol): WeightedCluster[] {
  const out: WeightedCluster[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    let weight = 100;
    if (parts[0].endsWith('%')) {
      weight = Number(parts.shift()!.slice(0, -1));
      if (!Number.isFinite(weight)) throw new ConfigError(CONFIG_CODES.schema, `bad weight in "${line}"`, where);
    }
    const hp = parts[0];
    const m = /^(.*?)(?::(\d+))?$/.exec(hp)!;
    out.push({ cluster: resolveCluster(b, m[1], m[2] ? Number(m[2]) : undefined, where, protocol), weight });
  }
  if (!out.length) throw new ConfigError(CONFIG_CODES.schema, 'empty destination', where);
  return out;
}

interface IngressPath {
  key: string;
  route: ModelRoute;
  canary?: { ann: Annotations; backends: WeightedCluster[]; rewrite?: ModelRewrite; where: ConfigLocation };
}

/**
 * `mirror-target-service` (`[namespace/]name[:port]`) or `mirror-target-fqdn` (+
 * `mirror-target-fqdn-port`, default 80), and `mirror-percentage` (default all): a copy of each
 * request goes there, as with the HTTPRoute RequestMirror filter.
 */
function ingressMirror(b: Builder, ann: Annotations, namespace: string, where: ConfigLocation): ModelRoute['mirror'] {
  const fqdn = ann.get('mirror-target-fqdn');
  const target = ann.get('mirror-target-service');
  if (fqdn === undefined && target === undefined) return undefined;
  const percent = Math.min(100, Number(ann.get('mirror-percentage') ?? 100));
  if (fqdn !== undefined) {
    const field = ann.field('mirror-target-fqdn');
    return mirrorTo(b, resolveCluster(b, fqdn, Number(ann.get('mirror-target-fqdn-port') ?? 80), { ...where, field }), percent, { ...where, field });
  }
  const [ref, port] = target!.split(':');
  const [ns2, name] = ref.includes('/') ? ref.split('/') : [namespace, ref];
  const host = `${name}.${ns2}.svc.cluster.local`;
  const field = ann.field('mirror-target-service');
  return mirrorTo(b, resolveCluster(b, b.services.has(host) ? host : name, port ? Number(port) : undefined, { ...where, field }), percent, { ...where, field });
}

/** A mirror of a route's requests to `cluster`, which must speak HTTP/1.1. */
function mirrorTo(b: Builder, cluster: string, percent: number, where: ConfigLocation): ModelRoute['mirror'] {
  if (b.clusters.get(cluster)?.protocol !== 'http') throw new ConfigError(CONFIG_CODES.schema, 'a mirror sends its copies to HTTP/1.1 backends only', where);
  return { cluster, percent };
}

/**
 * An HTTPRoute `CORS` filter, with the Gateway API's defaults (no credentials, max age 5 s) and
 * its origin forms: `*`, exact origins, `https://*.example.com` for subdomains.
 */
function httpRouteCors(c: Obj): ModelCors {
  const list = (v: unknown) => ((v as string[] | undefined) ?? []).join(', ');
  return {
    allowOrigins: (c.allowOrigins as string[] | undefined) ?? [],
    allowMethods: list(c.allowMethods),
    allowHeaders: list(c.allowHeaders),
    exposeHeaders: list(c.exposeHeaders),
    allowCredentials: c.allowCredentials === true,
    maxAgeSeconds: (c.maxAge as number | undefined) ?? 5,
  };
}

function ingress(b: Builder, doc: Obj, where: ConfigLocation, paths: Map<string, IngressPath>, canaries: IngressPath[]): void {
  const meta = doc.metadata as Obj;
  const ann = annotationsOf(meta);
  const name = objectKey(meta);
  const spec = doc.spec as Obj;
  const isCanary = ann.get('canary') === 'true';
  const protocol = protocolOf(ann.get('backend-protocol'));
  const useRegex = ann.get('use-regex') === 'true' || (ann.get('rewrite-target') ?? '').includes('$');
  const destinationAnn = ann.get('destination');
  const redirect = ingressRedirect(ann, where);
  const cors = ingressCors(ann, where);
  const retry = ingressRetry(ann, where);
  const timeoutMs = ingressTimeout(ann, where);
  const requestHeaders = ingressHeaderControl(ann, 'request');
  const responseHeaders = ingressHeaderControl(ann, 'response');
  const mirror = ingressMirror(b, ann, ns(meta), where);
  const matches = ingressMatches(ann, where);
  const loadBalancer = ingressLoadBalancer(ann);
  const matchKey = JSON.stringify(matches);
  const httpsRedirect: ModelRedirect | undefined = ann.get('ssl-redirect') === 'true' || ann.get('force-ssl-redirect') === 'true'
    ? { status: 308, scheme: 'https', plainOnly: true } : undefined;
  const vhost = ann.get('upstream-vhost');
  const allowSources = ann.get('whitelist-source-range')?.split(',').map((s) => s.trim()).filter(Boolean);
  if (allowSources) {
    for (const s of allowSources) {
      if (!parseCidr(s)) throw new ConfigError(CONFIG_CODES.schema, `whitelist-source-range: "${s}" is not an IP address or CIDR range`, { ...where, field: ann.field('whitelist-source-range') });
    }
  }

  const backendsOf = (backend: Obj, field: string): WeightedCluster[] => {
    const w = { ...where, field };
    if (backend.resource) {
      const r = backend.resource as Obj;
      if (r.kind !== 'McpBridge') throw new ConfigError(CONFIG_CODES.reference, `backend resource kind ${String(r.kind)} is not supported (McpBridge is)`, w);
      if (!destinationAnn) throw new ConfigError(CONFIG_CODES.reference, 'a McpBridge backend needs the higress.io/destination annotation', { ...where, field: 'metadata.annotations' });
      return parseDestinations(b, destinationAnn, { ...where, field: ann.field('destination') }, protocol);
    }
    const svc = backend.service as Obj;
    const fqdn = `${svc.name as string}.${ns(meta)}.svc.cluster.local`;
    const host = b.services.has(fqdn) ? fqdn : (svc.name as string);
    const portName = (svc.port as Obj | undefined)?.name as string | undefined;
    let port = (svc.port as Obj | undefined)?.number as number | undefined;
    if (portName !== undefined) {
      port = b.portNames.get(host)?.get(portName);
      if (port === undefined) throw new ConfigError(CONFIG_CODES.reference, `service ${host} has no port named "${portName}"`, { ...w, field: `${field}.service.port.name` });
    }
    return [{ cluster: resolveCluster(b, host, port, w, protocol), weight: 100 }];
  };

  const tls = (spec.tls as Obj[] | undefined) ?? [];
  tls.forEach((t, i) => {
    if (t.secretName) b.ingressTls.push({ hosts: (t.hosts as string[]) ?? [], secret: `${ns(meta)}/${t.secretName as string}`, where: { ...where, field: `spec.tls[${i}].secretName` } });
  });

  const rules = (spec.rules as Obj[] | undefined) ?? [];
  const add = (host: string | undefined, p: Obj, field: string) => {
    const pathType = (p.pathType as string | undefined) ?? 'ImplementationSpecific';
    const value = (p.path as string | undefined) ?? '/';
    const type: ModelRoute['path']['type'] = pathType === 'Exact' ? 'Exact' : pathType === 'Prefix' ? 'Prefix' : useRegex ? 'RegularExpression' : 'Prefix';
    if (type === 'RegularExpression') {
      try { new RegExp(value); } catch (err) { throw new ConfigError(CONFIG_CODES.schema, `bad path regex: ${(err as Error).message}`, { ...where, field: `${field}.path` }); }
    }
    const backends = backendsOf(p.backend as Obj, `${field}.backend`);
    if (loadBalancer) for (const w of backends) b.clusters.get(w.cluster)!.loadBalancer = loadBalancer;
    const key = `${host ?? '*'}|${type}|${value}|${matchKey}`;
    const pathRewrite = ingressRewrite(ann, { type, value });
    const rewrite = vhost === undefined ? pathRewrite : { ...pathRewrite, host: vhost };
    if (isCanary) {
      canaries.push({ key, route: undefined as unknown as ModelRoute, canary: { ann, backends, rewrite, where: { ...where, field } } });
      return;
    }
    if (paths.has(key)) throw new ConfigError(CONFIG_CODES.conflict, `host ${host ?? '*'} path ${value} is already routed by ${paths.get(key)!.route.name}`, { ...where, field });
    const route: ModelRoute = {
      name, hosts: host ? [host] : [], path: { type, value }, ...matches, backends, rewrite, redirect: redirect ?? httpsRedirect, retry, timeoutMs, requestHeaders, responseHeaders, mirror, cors, allowSources, source: { ...where, field },
    };
    paths.set(key, { key, route });
    b.routes.push(route);
  };
  // app-root: a request for exactly `/` on each host of the Ingress answers 302 to that path,
  // ahead of the host's other routes (Higress adds such a route per host).
  const appRoot = isCanary ? undefined : ann.get('app-root');
  const appRootHosts = new Set<string | undefined>();
  rules.forEach((r, i) => {
    const http = r.http as Obj | undefined;
    const host = r.host as string | undefined;
    if (appRoot && !appRootHosts.has(host)) {
      appRootHosts.add(host);
      b.routes.push({
        name, hosts: host ? [host] : [], path: { type: 'Exact', value: '/' }, headers: [], query: [], backends: [],
        redirect: { status: 302, path: { fullPath: appRoot } }, source: { ...where, field: ann.field('app-root') },
      });
    }
    ((http?.paths as Obj[] | undefined) ?? []).forEach((p, j) => add(host, p, `spec.rules[${i}].http.paths[${j}]`));
  });
  if (spec.defaultBackend) add(undefined, { path: '/', pathType: 'Prefix', backend: spec.defaultBackend }, 'spec.defaultBackend');
}

function applyCanaries(paths: Map<string, IngressPath>, canaries: IngressPath[]): void {
  for (const c of canaries) {
    const primary = paths.get(c.key);
    const cn = c.canary!;
    if (!primary) throw new ConfigError(CONFIG_CODES.reference, 'canary Ingress has no primary Ingress with the same host and path', cn.where);
    const ann = cn.ann;
    const canary: ModelCanary = {
      header: ann.get('canary-by-header')?.toLowerCase(),
      headerValue: ann.get('canary-by-header-value'),
      headerPattern: ann.get('canary-by-header-pattern'),
      cookie: ann.get('canary-by-cookie'),
      weight: Number(ann.get('canary-weight') ?? 0),
      backends: cn.backends,
      rewrite: cn.rewrite,
    };
    const total = Number(ann.get('canary-weight-total') ?? 100);
    canary.weight = (canary.weight / total) * 100;
    primary.route.canary = canary;
  }
}

function headerMods(m: Obj | undefined): ModelHeaderMods | undefined {
  if (!m) return undefined;
  const pairs = (l: unknown) => ((l as Obj[] | undefined) ?? []).map((x) => [String(x.name).toLowerCase(), String(x.value)] as [string, string]);
  return { set: pairs(m.set), add: pairs(m.add), remove: ((m.remove as string[] | undefined) ?? []).map((s) => s.toLowerCase()) };
}

function httpRoute(b: Builder, doc: Obj, where: ConfigLocation): void {
  const meta = doc.metadata as Obj;
  const name = objectKey(meta);
  const spec = doc.spec as Obj;
  const hosts = (spec.hostnames as string[] | undefined) ?? [];
  ((spec.rules as Obj[] | undefined) ?? [{}]).forEach((rule, i) => {
    const field = `spec.rules[${i}]`;
    const clusterOf = (ref: Obj, refField: string): string => {
      const refNs = (ref.namespace as string | undefined) ?? ns(meta);
      const n = ref.name as string;
      const fqdn = n.includes('.') ? n : `${n}.${refNs}.svc.cluster.local`;
      const host = b.services.has(fqdn) ? fqdn : n;
      return resolveCluster(b, host, ref.port as number | undefined, { ...where, field: refField });
    };
    const backends: WeightedCluster[] = ((rule.backendRefs as Obj[] | undefined) ?? []).map((ref, j) => ({
      cluster: clusterOf(ref, `${field}.backendRefs[${j}]`), weight: (ref.weight as number | undefined) ?? 1,
    }));
    let rewrite: ModelRewrite | undefined;
    let redirect: ModelRedirect | undefined;
    let mirror: ModelRoute['mirror'];
    let reqMods: ModelHeaderMods | undefined;
    let respMods: ModelHeaderMods | undefined;
    let cors: ModelCors | undefined;
    for (const [k, f] of ((rule.filters as Obj[] | undefined) ?? []).entries()) {
      if (f.type === 'RequestHeaderModifier') reqMods = headerMods(f.requestHeaderModifier as Obj);
      else if (f.type === 'ResponseHeaderModifier') respMods = headerMods(f.responseHeaderModifier as Obj);
      else if (f.type === 'URLRewrite') {
        const u = f.urlRewrite as Obj;
        rewrite = { host: u.hostname as string | undefined, ...pathChange(u.path as Obj | undefined) };
      } else if (f.type === 'RequestRedirect') {
        const r = (f.requestRedirect as Obj | undefined) ?? {};
        redirect = {
          status: (r.statusCode as number | undefined) ?? 302,
          scheme: r.scheme as string | undefined,
          hostname: r.hostname as string | undefined,
          port: r.port as number | undefined,
          path: r.path ? pathChange(r.path as Obj) : undefined,
        };
      } else if (f.type === 'RequestMirror') {
        const m = (f.requestMirror as Obj | undefined) ?? {};
        const refField = `${field}.filters[${k}].requestMirror.backendRef`;
        const fraction = m.fraction as Obj | undefined;
        const percent = m.percent !== undefined ? Number(m.percent) : fraction ? (100 * Number(fraction.numerator)) / Number(fraction.denominator ?? 100) : 100;
        mirror = mirrorTo(b, clusterOf((m.backendRef as Obj | undefined) ?? {}, refField), percent, { ...where, field: refField });
      } else if (f.type === 'CORS') {
        cors = httpRouteCors((f.cors as Obj | undefined) ?? {});
      } else {
        throw new ConfigError(CONFIG_CODES.schema, `filter type "${String(f.type)}" is not supported by the local gateway (RequestHeaderModifier, ResponseHeaderModifier, URLRewrite, RequestRedirect, RequestMirror and CORS are)`, { ...where, field: `${field}.filters[${k}].type` });
      }
    }
    if (redirect && (rewrite || rule.backendRefs)) {
      throw new ConfigError(CONFIG_CODES.schema, 'a rule with a RequestRedirect filter has neither a URLRewrite filter nor backendRefs (Gateway API)', { ...where, field: `${field}.filters` });
    }
    const timeouts = rule.timeouts as Obj | undefined;
    const requestTimeout = timeouts?.request ? parseDuration(timeouts.request as string) : 0;
    const backendTimeout = timeouts?.backendRequest ? parseDuration(timeouts.backendRequest as string) : 0;
    // Higress: `attempts` defaults to 2; connection failures and the listed codes are retried;
    // `timeouts.backendRequest` is the per-try timeout when there are retries, else the route's.
    const r = rule.retry as Obj | undefined;
    const retry = r && retryPolicy((r.attempts as number | undefined) ?? 2, (r.codes as number[] | undefined) ?? [],
      r.backoff ? parseDuration(r.backoff as string) : RETRY_BACKOFF_MS, backendTimeout || undefined);
    const timeoutMs = requestTimeout || (retry ? 0 : backendTimeout) || undefined;
    const matches = (rule.matches as Obj[] | undefined)?.length ? (rule.matches as Obj[]) : [{}];
    matches.forEach((m, j) => {
      const path = (m.path as Obj | undefined) ?? {};
      const ptype = (path.type as string | undefined) ?? 'PathPrefix';
      b.routes.push({
        name, hosts,
        path: { type: ptype === 'Exact' ? 'Exact' : ptype === 'RegularExpression' ? 'RegularExpression' : 'Prefix', value: (path.value as string | undefined) ?? '/' },
        methods: m.method ? [m.method as string] : undefined,
        headers: ((m.headers as Obj[] | undefined) ?? []).map((h) => ({ name: String(h.name).toLowerCase(), type: (h.type as 'Exact' | undefined) ?? 'Exact', value: String(h.value) })),
        query: ((m.queryParams as Obj[] | undefined) ?? []).map((q) => ({ name: String(q.name), type: (q.type as 'Exact' | undefined) ?? 'Exact', value: String(q.value) })),
        backends, rewrite, redirect, mirror, requestHeaders: reqMods, responseHeaders: respMods,
        timeoutMs, retry, cors,
        direct: backends.length || redirect ? undefined : { status: 500, body: 'no backend' },
        source: { ...where, field: `${field}.matches[${j}]` },
      });
    });
  });
}

/** A URLRewrite's or RequestRedirect's `path`: `ReplaceFullPath` or `ReplacePrefixMatch`. */
function pathChange(p: Obj | undefined): ModelRewrite {
  if (p?.type === 'ReplaceFullPath') return { fullPath: p.replaceFullPath as string };
  if (p?.type === 'ReplacePrefixMatch') return { prefix: p.replacePrefixMatch as string };
  return {};
}

function parseDuration(s: string): number {
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * ({ ms: 1, s: 1000, m: 60000, h: 3600000 } as Record<string, number>)[m[2]];
  return ms;
}

function resolvePluginUrl(url: string, file: string): string {
  if (!url.startsWith('file://')) return url;
  const rest = url.slice('file://'.length);
  if (rest.startsWith('/')) return url;
  return pathToFileURL(resolve(dirname(file), rest)).href;
}

function wasmPlugin(b: Builder, doc: Obj, where: ConfigLocation, file: string): void {
  const meta = doc.metadata as Obj;
  const spec = doc.spec as Obj;
  const built = buildPluginConfig(spec, where);
  if (!built) return; // disabled everywhere: Higress does not push it
  const env: Record<string, string> = {};
  for (const e of ((spec.vmConfig as Obj | undefined)?.env as Obj[] | undefined) ?? []) {
    env[e.name as string] = e.valueFrom === 'HOST' ? (process.env[e.name as string] ?? '') : String(e.value ?? '');
  }
  const url = resolvePluginUrl(spec.url as string, file);
  b.plugins.push({
    id: objectKey(meta),
    pluginName: (spec.pluginName as string | undefined) ?? '',
    url,
    sha256: spec.sha256 as string | undefined,
    pullPolicy: spec.imagePullPolicy === 'Always' || (spec.imagePullPolicy !== 'IfNotPresent' && /:latest$/.test(url)) ? 'Always' : 'IfNotPresent',
    phase: ((spec.phase as string | undefined) ?? 'UNSPECIFIED_PHASE') as PluginPhase,
    priority: (spec.priority as number | undefined) ?? 0,
    failStrategy: ((spec.failStrategy as string | undefined) ?? 'FAIL_CLOSE') as FailStrategy,
    configuration: built.configuration,
    scope: built.scope,
    vmEnv: env,
    source: where,
  });
}

function secret(b: Builder, doc: Obj, where: ConfigLocation): void {
  const meta = doc.metadata as Obj;
  const data = (doc.data as Obj | undefined) ?? {};
  const sdata = (doc.stringData as Obj | undefined) ?? {};
  const get = (k: string) => (sdata[k] as string | undefined) ?? (data[k] ? Buffer.from(String(data[k]), 'base64').toString('utf8') : undefined);
  const cert = get('tls.crt');
  const key = get('tls.key');
  if (!cert || !key) throw new ConfigError(CONFIG_CODES.schema, 'a TLS Secret needs tls.crt and tls.key', { ...where, field: 'data' });
  b.secrets.set(objectKey(meta), { cert, key });
}

// ---------------------------------------------------------------------------------------------
// Native form

function pem(value: string, file: string, where: ConfigLocation): string {
  if (value.includes('-----BEGIN')) return value;
  const p = isAbsolute(value) ? value : resolve(dirname(file), value);
  if (!existsSync(p)) throw new ConfigError(CONFIG_CODES.tls, `file not found: ${p}`, where);
  return readFileSync(p, 'utf8');
}

function native(b: Builder, doc: Obj, file: string): void {
  const obj = 'native config';
  validateAgainst('gateway-config', doc, { file, object: obj });
  for (const [i, l] of ((doc.listeners as Obj[] | undefined) ?? []).entries()) {
    const where = { file, object: obj, field: `listeners[${i}]` };
    const tls = (l.tls as Obj[] | undefined)?.map((t, j) => ({
      hosts: (t.hosts as string[] | undefined) ?? [],
      cert: pem(t.cert as string, file, { ...where, field: `${where.field}.tls[${j}].cert` }),
      key: pem(t.key as string, file, { ...where, field: `${where.field}.tls[${j}].key` }),
    }));
    b.listeners.push({ name: (l.name as string | undefined) ?? `listener-${b.listeners.length}`, address: (l.address as string | undefined) ?? '0.0.0.0', port: l.port as number, tls });
  }
  if (doc.admin) Object.assign(b.admin, doc.admin);
  if (doc.settings) {
    const { gzip, http2, ...rest } = doc.settings as Obj;
    Object.assign(b.settings, rest);
    if (http2) b.settings.http2 = { ...b.settings.http2, ...(http2 as Partial<ModelHttp2>) };
    // true keeps what a higress-config ConfigMap set, else Higress's default.
    if (gzip === false) b.settings.gzip = undefined;
    else if (gzip === true) b.settings.gzip ??= DEFAULT_GZIP;
  }
  for (const [i, s] of ((doc.services as Obj[] | undefined) ?? []).entries()) {
    const where = { file, object: obj, field: `services[${i}]` };
    const port = (s.port as number | undefined) ?? 80;
    const eps = (s.endpoints as Array<string | Obj>).map((e, j) => {
      const w = { ...where, field: `${where.field}.endpoints[${j}]` };
      if (typeof e === 'string') return { ...parseEndpoint(e, w), weight: 1 };
      return { ...parseEndpoint(e.address as string, w, port), weight: (e.weight as number | undefined) ?? 1 };
    });
    const extra: Partial<ModelCluster> = { idleTimeoutMs: b.upstreamIdleMs };
    for (const k of ['connectTimeoutMs', 'requestTimeoutMs', 'idleTimeoutMs', 'tlsVerify'] as const) if (s[k] !== undefined) (extra as Obj)[k] = s[k];
    const lb = s.loadBalancer as Obj | undefined;
    if (lb) {
      const cookie = (lb.hash as Obj | undefined)?.cookie as Obj | undefined;
      extra.loadBalancer = {
        policy: (lb.policy as ModelLoadBalancer['policy'] | undefined) ?? 'round_robin',
        hash: cookie ? { cookie: { name: cookie.name as string, path: (cookie.path as string | undefined) ?? '/', ttlSeconds: (cookie.ttlSeconds as number | undefined) ?? 0 } } : lb.hash as ModelLoadBalancer['hash'],
      };
    }
    const fqdn = s.name as string;
    if (b.services.has(fqdn)) throw new ConfigError(CONFIG_CODES.conflict, `service ${fqdn} is defined twice`, where);
    addService(b, newCluster(fqdn, port, (s.protocol as UpstreamProtocol | undefined) ?? 'http', eps, where, extra));
  }
  pendingNativeRoutes.push({ b, doc, file });
  for (const [i, p] of ((doc.plugins as Obj[] | undefined) ?? []).entries()) {
    const where = { file, object: `plugin ${p.name as string}`, field: `plugins[${i}]` };
    const rules = ((p.rules as Obj[] | undefined) ?? []).map((r) => ({ ingress: r.routes as string[] | undefined, domain: r.domains as string[] | undefined, service: r.services as string[] | undefined, config: r.config as Obj | undefined, configDisable: r.configDisable as boolean | undefined }));
    const built = buildPluginConfig({ defaultConfig: p.config as Obj | undefined, defaultConfigDisable: p.configDisable as boolean | undefined, matchRules: rules }, where);
    if (!built) continue;
    b.plugins.push({
      id: p.name as string,
      pluginName: (p.pluginName as string | undefined) ?? (p.name as string),
      url: resolvePluginUrl(p.url as string, file),
      sha256: p.sha256 as string | undefined,
      pullPolicy: (p.imagePullPolicy as 'Always' | undefined) ?? 'IfNotPresent',
      phase: (p.phase as PluginPhase | undefined) ?? 'UNSPECIFIED_PHASE',
      priority: (p.priority as number | undefined) ?? 0,
      failStrategy: (p.failStrategy as FailStrategy | undefined) ?? 'FAIL_CLOSE',
      configuration: built.configuration,
      scope: built.scope,
      vmEnv: (p.env as Record<string, string> | undefined) ?? {},
      source: where,
    });
  }
}

let pendingNativeRoutes: Array<{ b: Builder; doc: Obj; file: string }> = [];

/** Native route matches seen so far per build (key → route name), to refuse exact duplicates. */
const nativeMatches = new WeakMap<Builder, Map<string, string>>();

function nativeRoutes(b: Builder, doc: Obj, file: string): void {
  let seen = nativeMatches.get(b);
  if (!seen) nativeMatches.set(b, (seen = new Map()));
  for (const [i, r] of ((doc.routes as Obj[] | undefined) ?? []).entries()) {
    const where = { file, object: `route ${r.name as string}`, field: `routes[${i}]` };
    const match = JSON.stringify([[...((r.hosts as string[] | undefined) ?? [])].sort(), r.pathType ?? 'Prefix', r.path ?? '/', r.method ?? '', r.headers ?? {}, r.query ?? {}]);
    const prev = seen.get(match);
    if (prev !== undefined) throw new ConfigError(CONFIG_CODES.conflict, `the same hosts, path and matches are already routed by ${prev}`, where);
    seen.set(match, r.name as string);
    const refs = (r.backends as Obj[] | undefined) ?? (r.service ? [{ service: r.service }] : []);
    const backends = refs.map((ref, j) => ({ cluster: resolveCluster(b, ref.service as string, ref.port as number | undefined, { ...where, field: `${where.field}.backends[${j}]` }), weight: (ref.weight as number | undefined) ?? 1 }));
    if (!backends.length && !r.direct) throw new ConfigError(CONFIG_CODES.schema, 'a route needs a service, backends or direct', where);
    const pathType = (r.pathType as ModelRoute['path']['type'] | undefined) ?? 'Prefix';
    const pairs = (o: unknown) => Object.entries((o as Record<string, string> | undefined) ?? {});
    const mods = (m: Obj | undefined): ModelHeaderMods | undefined => m && { set: pairs(m.set).map(([k, v]) => [k.toLowerCase(), v]), add: pairs(m.add).map(([k, v]) => [k.toLowerCase(), v]), remove: ((m.remove as string[] | undefined) ?? []).map((s) => s.toLowerCase()) };
    const rw = r.rewrite as Obj | undefined;
    b.routes.push({
      name: r.name as string,
      hosts: (r.hosts as string[] | undefined) ?? [],
      path: { type: pathType, value: (r.path as string | undefined) ?? '/' },
      methods: r.method ? [r.method as string] : undefined,
      headers: pairs(r.headers).map(([name, value]) => ({ name: name.toLowerCase(), type: 'Exact' as const, value })),
      query: pairs(r.query).map(([name, value]) => ({ name, type: 'Exact' as const, value })),
      backends,
      rewrite: rw && { prefix: rw.prefix as string | undefined, fullPath: rw.path as string | undefined, host: rw.host as string | undefined },
      requestHeaders: mods(r.requestHeaders as Obj | undefined),
      responseHeaders: mods(r.responseHeaders as Obj | undefined),
      timeoutMs: r.timeoutMs as number | undefined,
      retry: nativeRetry(r.retry as Obj | undefined),
      direct: r.direct as ModelRoute['direct'],
      source: where,
    });
  }
}

/** A native route's `retry` (`on` defaults to connection failures only). */
function nativeRetry(r: Obj | undefined): ModelRetry | undefined {
  return r && retryPolicy(r.attempts as number, (r.on as Array<string | number> | undefined) ?? [], (r.backoffMs as number | undefined) ?? RETRY_BACKOFF_MS, r.perTryTimeoutMs as number | undefined);
}

// ---------------------------------------------------------------------------------------------

const SCHEMA_OF: Record<string, string> = {
  Ingress: 'ingress', HTTPRoute: 'httproute', WasmPlugin: 'wasmplugin', McpBridge: 'mcpbridge', Service: 'service', Endpoints: 'endpoints',
  EndpointSlice: 'endpointslice',
};

/** Builds a model from already-parsed documents (the embedded demo config uses this directly). */
export function buildModel(docs: ConfigDocument[], files: string[], opts: LoadOptions = {}): ConfigModel {
  const b: Builder = {
    clusters: new Map(), services: new Map(), routes: [], plugins: [], listeners: [], secrets: new Map(), ingressTls: [],
    settings: { ...DEFAULT_SETTINGS }, admin: { address: opts.adminAddress ?? '127.0.0.1', port: opts.adminPort ?? 15000 },
    upstreamIdleMs: DEFAULT_UPSTREAM_IDLE_MS, portNames: new Map(),
  };
  pendingNativeRoutes = [];
  const k8s = docs.filter((d) => typeof d.value.kind === 'string');
  const nativeDocs = docs.filter((d) => typeof d.value.kind !== 'string');
  const whereOf = (d: ConfigDocument): ConfigLocation => {
    const meta = (d.value.metadata as Obj | undefined) ?? {};
    return { file: d.file, object: `${String(d.value.kind)} ${ns(meta)}/${String(meta.name ?? '?')}` };
  };
  // Global settings first (Higress's ConfigMap), then services (McpBridge, native), then what references them.
  for (const d of k8s) if (d.value.kind === 'ConfigMap') applyHigressConfig(b, higressConfigMap(d.value, whereOf(d)));
  for (const d of nativeDocs) native(b, d.value, d.file);
  // The address sets behind each Service (`<namespace>/<name>`): Endpoints subsets and EndpointSlices.
  const behind = new Map<string, EndpointSubset[]>();
  const addSubsets = (key: string, list: EndpointSubset[]) => behind.set(key, [...(behind.get(key) ?? []), ...list]);
  for (const d of k8s) {
    const kind = d.value.kind as string;
    const schema = SCHEMA_OF[kind];
    if (schema) validateAgainst(schema, d.value, whereOf(d));
    if (kind === 'Endpoints') addSubsets(objectKey(d.value.metadata as Obj), (d.value.subsets as EndpointSubset[] | undefined) ?? []);
    if (kind === 'EndpointSlice') {
      const meta = d.value.metadata as Obj;
      addSubsets(`${ns(meta)}/${(meta.labels as Obj)['kubernetes.io/service-name'] as string}`, [sliceSubset(d.value)]);
    }
  }
  for (const d of k8s) {
    const kind = d.value.kind as string;
    const schema = SCHEMA_OF[kind];
    if (kind === 'McpBridge') mcpBridge(b, d.value, whereOf(d));
    else if (kind === 'Service') kubeService(b, d.value, whereOf(d), behind.get(objectKey(d.value.metadata as Obj)) ?? []);
    else if (kind === 'Secret') secret(b, d.value, whereOf(d));
    else if (!schema && kind !== 'ConfigMap') throw new ConfigError(CONFIG_CODES.schema, `kind ${kind} is not supported (Ingress, HTTPRoute, WasmPlugin, McpBridge, Service, Endpoints, EndpointSlice, Secret, ConfigMap higress-config are)`, { file: d.file, object: `document ${d.index + 1}`, field: 'kind' });
  }
  for (const p of pendingNativeRoutes) nativeRoutes(p.b, p.doc, p.file);
  const paths = new Map<string, IngressPath>();
  const canaries: IngressPath[] = [];
  for (const d of k8s) {
    const kind = d.value.kind as string;
    if (kind === 'Ingress') ingress(b, d.value, whereOf(d), paths, canaries);
    else if (kind === 'HTTPRoute') httpRoute(b, d.value, whereOf(d));
    else if (kind === 'WasmPlugin') wasmPlugin(b, d.value, whereOf(d), d.file);
  }
  applyCanaries(paths, canaries);
  if (b.routeTimeoutMs) for (const r of b.routes) r.timeoutMs ??= b.routeTimeoutMs;

  const ids = new Set<string>();
  for (const p of b.plugins) {
    if (ids.has(p.id)) throw new ConfigError(CONFIG_CODES.conflict, `plugin ${p.id} is defined twice`, p.source);
    ids.add(p.id);
  }
  if (b.listeners.length === 0) b.listeners.push({ name: 'http', address: opts.address ?? '0.0.0.0', port: opts.port ?? 8080 });
  if (b.ingressTls.length) {
    const certs: ModelCertificate[] = b.ingressTls.map((t) => {
      const s = b.secrets.get(t.secret);
      if (!s) throw new ConfigError(CONFIG_CODES.reference, `TLS secret ${t.secret} not found (add a kubernetes.io/tls Secret)`, t.where);
      return { hosts: t.hosts, cert: s.cert, key: s.key };
    });
    const existing = b.listeners.find((l) => l.tls?.length);
    if (existing) existing.tls!.push(...certs);
    else b.listeners.push({ name: 'https', address: opts.address ?? '0.0.0.0', port: opts.httpsPort ?? 8443, tls: certs });
  }
  for (const l of b.listeners) {
    checkCertificates(l);
    // The listener only sees its own model; the client timeouts travel with it.
    l.headersTimeoutMs = b.settings.headersTimeoutMs;
    l.idleTimeoutMs = b.settings.idleTimeoutMs;
    l.maxRequestHeadersBytes = b.settings.maxRequestHeadersBytes;
    l.http2 = b.settings.http2;
  }
  return {
    listeners: b.listeners, clusters: [...b.clusters.values()], routes: b.routes,
    plugins: sortPlugins(b.plugins), settings: b.settings, admin: b.admin, files, version: 0,
  };
}

/** Higress's global settings over the defaults. */
function applyHigressConfig(b: Builder, g: HigressGlobal | undefined): void {
  if (!g) return;
  const s = b.settings;
  if (g.gzip !== undefined) s.gzip = g.gzip ?? undefined;
  if (g.idleTimeoutMs) s.idleTimeoutMs = g.idleTimeoutMs;
  if (g.maxRequestHeadersBytes) s.maxRequestHeadersBytes = g.maxRequestHeadersBytes;
  if (g.http2) s.http2 = { ...s.http2, ...g.http2 };
  if (g.bodyBufferLimitBytes) s.bodyBufferLimitBytes = g.bodyBufferLimitBytes;
  if (g.addXRealIp) s.addXRealIp = true;
  if (g.upstreamIdleMs) b.upstreamIdleMs = g.upstreamIdleMs;
  b.routeTimeoutMs = g.routeTimeoutMs;
}

const PHASE_ORDER: Record<PluginPhase, number> = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 };

/** Chain order: AUTHN, AUTHZ, STATS, then unspecified; within a phase higher priority first; then by id (stable). */
export function sortPlugins(list: ModelPlugin[]): ModelPlugin[] {
  return [...list].sort((a, b) => PHASE_ORDER[a.phase] - PHASE_ORDER[b.phase] || b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Reads, validates and translates configuration files and directories. */
export async function loadConfig(paths: string[], opts: LoadOptions = {}): Promise<ConfigModel> {
  const files = await listConfigFiles(paths);
  const docs = await readConfigDocuments(files);
  return buildModel(docs, files, opts);
}

/** Path of a `file://` plugin URL. */
export function fileUrlPath(url: string): string {
  return fileURLToPath(url);
}
