/**
 * Higress's global settings: the `higress` key of the `higress-config` ConfigMap (YAML in a
 * string), read as Higress's controller reads it (pkg/ingress/kube/configmap): `gzip`,
 * `downstream` (idle timeout, request head limit, HTTP/2 settings, body buffer limit, route timeout), `upstream`
 * (idle timeout), `addXRealIpHeader`. Times are seconds there; 0 or a missing value
 * leaves the gateway's default. Other ConfigMaps are not read.
 */
import { parse as parseYaml } from 'yaml';
import type { ModelGzip, ModelHttp2 } from './config-model.js';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';
import { validateAgainst } from './schema-validate.js';

type Obj = Record<string, unknown>;

/** What the ConfigMap sets; a missing member keeps the gateway's value. */
export interface HigressGlobal {
  /** null = compression off. */
  gzip?: ModelGzip | null;
  idleTimeoutMs?: number;
  maxRequestHeadersBytes?: number;
  /** The fields given (Higress fills the others with its defaults, as the gateway does). */
  http2?: Partial<ModelHttp2>;
  bodyBufferLimitBytes?: number;
  /** The timeout of routes that set none. */
  routeTimeoutMs?: number;
  /** The idle timeout of upstream connections. */
  upstreamIdleMs?: number;
  addXRealIp?: boolean;
}

/** zlib's levels and strategies by the names Envoy's gzip compressor (and Higress) use. */
const LEVELS: Record<string, number> = { BEST_COMPRESSION: 9, BEST_SPEED: 1 };
const STRATEGIES: Record<string, number> = { DEFAULT_STRATEGY: 0, FILTERED: 1, HUFFMAN_ONLY: 2, RLE: 3, FIXED: 4 };

function gzipOf(g: Obj): ModelGzip | null {
  if (!g.enable) return null;
  const level = g.compressionLevel as string;
  return {
    minContentLength: g.minContentLength as number,
    contentTypes: (g.contentType as string[]).map((t) => t.toLowerCase()),
    disableOnEtag: g.disableOnEtagHeader as boolean,
    level: LEVELS[level] ?? Number(level.slice('COMPRESSION_LEVEL_'.length)),
    memLevel: g.memoryLevel as number,
    windowBits: g.windowBits as number,
    chunkSize: g.chunkSize as number,
    strategy: STRATEGIES[g.compressionStrategy as string],
  };
}

const seconds = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v * 1000 : undefined);

/** The settings of a `higress-config` ConfigMap; undefined for another ConfigMap or one without the `higress` key. */
export function higressConfigMap(doc: Obj, where: ConfigLocation): HigressGlobal | undefined {
  if ((doc.metadata as Obj | undefined)?.name !== 'higress-config') return undefined;
  const text = (doc.data as Obj | undefined)?.higress;
  if (text === undefined) return undefined;
  const at = { ...where, field: 'data.higress' };
  if (typeof text !== 'string') throw new ConfigError(CONFIG_CODES.schema, 'must be a string (the settings as YAML)', at);
  let cfg: Obj;
  try {
    cfg = (parseYaml(text) as Obj | null) ?? {};
  } catch (err) {
    throw new ConfigError(CONFIG_CODES.yaml, `YAML error: ${(err as Error).message}`, at);
  }
  validateAgainst('higress-config', cfg, at);
  const out: HigressGlobal = {};
  if (cfg.gzip) out.gzip = gzipOf(cfg.gzip as Obj);
  const down = cfg.downstream as Obj | undefined;
  if (down) {
    out.idleTimeoutMs = seconds(down.idleTimeout);
    out.maxRequestHeadersBytes = ((down.maxRequestHeadersKb as number | undefined) ?? 0) * 1024 || undefined;
    out.http2 = down.http2 as Partial<ModelHttp2> | undefined;
    out.bodyBufferLimitBytes = (down.connectionBufferLimits as number | undefined) || undefined;
    out.routeTimeoutMs = seconds(down.routeTimeout);
  }
  out.upstreamIdleMs = seconds((cfg.upstream as Obj | undefined)?.idleTimeout);
  if (cfg.addXRealIpHeader) out.addXRealIp = true;
  return out;
}
