/**
 * Builds the Higress `WasmPlugin` resource (extensions.higress.io/v1alpha1) that deploys a plugin
 * image to a cluster: `url`, `phase`, `priority`, `defaultConfig` and `matchRules`, with every
 * config checked against the plugin's schema first.
 */
import { stringify } from 'yaml';
import { AuthorError } from './errors.js';
import type { ConfigSchema, PluginConfig } from './config-schema.js';
import type { PluginSpec } from './plugin-project.js';

/** Phases a WasmPlugin accepts (wasmplugin.proto `PluginPhase`). */
export const PHASES = ['UNSPECIFIED_PHASE', 'AUTHN', 'AUTHZ', 'STATS'] as const;
/** A WasmPlugin phase. */
export type Phase = (typeof PHASES)[number];

/** One `matchRules[]` entry: the routes, domains or services it scopes, and its config. */
export interface MatchRule {
  ingress?: string[];
  domain?: string[];
  service?: string[];
  config: PluginConfig;
}

/** Inputs of {@link buildWasmPlugin}. */
export interface WasmPluginOptions {
  /** Plugin name: `metadata.name` unless `resourceName` is given, and `spec.pluginName`. */
  pluginName: string;
  /** Image URL; a reference without a scheme gets `oci://`. */
  image: string;
  /** Namespace of the resource; default `higress-system` (where Higress looks for WasmPlugins). */
  namespace?: string;
  /** `metadata.name`; default the plugin name. */
  resourceName?: string;
  /** Global config. Missing: no `defaultConfig`, and `defaultConfigDisable: true` when there are rules. */
  defaultConfig?: PluginConfig;
  /** Rule-scoped configs, in match order (first match wins). Default none. */
  matchRules?: MatchRule[];
  /** Default: spec.yaml's `spec.phase`, else none (UNSPECIFIED_PHASE). */
  phase?: string;
  /** Default: spec.yaml's `spec.priority`, else none. */
  priority?: number;
  /** `FAIL_CLOSE` or `FAIL_OPEN`; default none (Higress's default, FAIL_CLOSE). */
  failStrategy?: string;
  /** `IfNotPresent` or `Always`; default none (Higress: Always for `:latest`, else IfNotPresent). */
  imagePullPolicy?: string;
  /** Pins the image: manifest digest, `sha256:<hex>` or bare hex. Default none. */
  sha256?: string;
  /** The plugin's spec.yaml, for phase/priority defaults. */
  spec?: PluginSpec;
  /** Validators from the plugin's schema; configs are checked when given. */
  schema?: ConfigSchema;
}

/** Normalises a phase spelling (`authn`, `default`, `UNSPECIFIED`) to the CRD enum; throws HP_BAD_OPTION. */
export function normalizePhase(value: string, where = '--phase'): Phase {
  const v = value.trim().toUpperCase();
  if (v === 'DEFAULT' || v === 'UNSPECIFIED' || v === '') return 'UNSPECIFIED_PHASE';
  if ((PHASES as readonly string[]).includes(v)) return v as Phase;
  throw new AuthorError('HP_BAD_OPTION', `${where}: "${value}" is not a phase; use one of ${PHASES.join(', ')}`);
}

/** The WasmPlugin resource as a plain object (validated configs, ordered keys). */
export function buildWasmPlugin(o: WasmPluginOptions): Record<string, unknown> {
  const rules = o.matchRules ?? [];
  if (o.defaultConfig) o.schema?.validate(o.defaultConfig, 'defaultConfig');
  rules.forEach((r, i) => {
    const scope = r.ingress ? `ingress ${r.ingress.join(',')}` : r.domain ? `domain ${r.domain.join(',')}` : `service ${r.service?.join(',')}`;
    o.schema?.validateRule(r.config, `matchRules[${i}] (${scope}) config`);
  });
  const specPhase = o.phase ?? o.spec?.spec?.phase;
  const phase = specPhase === undefined ? undefined : normalizePhase(String(specPhase), o.phase !== undefined ? '--phase' : 'spec.yaml spec.phase');
  const priority = o.priority ?? o.spec?.spec?.priority;
  if (priority !== undefined && !Number.isInteger(priority)) {
    throw new AuthorError('HP_BAD_OPTION', `priority must be an integer, got ${priority}`);
  }
  if (o.failStrategy !== undefined && !['FAIL_CLOSE', 'FAIL_OPEN'].includes(o.failStrategy)) {
    throw new AuthorError('HP_BAD_OPTION', `--fail-strategy: "${o.failStrategy}" is not FAIL_CLOSE or FAIL_OPEN`);
  }
  if (o.imagePullPolicy !== undefined && !['IfNotPresent', 'Always'].includes(o.imagePullPolicy)) {
    throw new AuthorError('HP_BAD_OPTION', `--pull-policy: "${o.imagePullPolicy}" is not IfNotPresent or Always`);
  }
  const spec: Record<string, unknown> = { url: /^[a-z][a-z0-9+.-]*:\/\//.test(o.image) ? o.image : `oci://${o.image}` };
  if (o.sha256) spec.sha256 = o.sha256.replace(/^sha256:/, '');
  if (o.imagePullPolicy) spec.imagePullPolicy = o.imagePullPolicy;
  spec.pluginName = o.pluginName;
  if (phase && phase !== 'UNSPECIFIED_PHASE') spec.phase = phase;
  if (priority !== undefined) spec.priority = priority;
  if (o.failStrategy) spec.failStrategy = o.failStrategy;
  if (o.defaultConfig) spec.defaultConfig = o.defaultConfig;
  else if (rules.length) spec.defaultConfigDisable = true;
  if (rules.length) {
    spec.matchRules = rules.map((r) => {
      const out: Record<string, unknown> = {};
      if (r.ingress) out.ingress = r.ingress;
      if (r.domain) out.domain = r.domain;
      if (r.service) out.service = r.service;
      out.config = r.config;
      return out;
    });
  }
  return {
    apiVersion: 'extensions.higress.io/v1alpha1',
    kind: 'WasmPlugin',
    metadata: { name: o.resourceName ?? o.pluginName, namespace: o.namespace ?? 'higress-system' },
    spec,
  };
}

/** YAML text of a resource, as `kubectl apply -f` takes it. */
export function toYaml(resource: Record<string, unknown>): string {
  return stringify(resource, { lineWidth: 0 });
}
