/**
 * A WasmPlugin's `defaultConfig` + `matchRules` as the ONE plugin configuration Higress's control
 * plane writes (alibaba/higress `convertIstioWasmPlugin`): the default config at top level unless
 * `defaultConfigDisable`, and `_rules_` with `_match_route_` (from `ingress`), `_match_service_`
 * and `_match_domain_`. `pluginConfig`, when set, is used verbatim.
 */
import type { ModelPlugin } from './config-model.js';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';

/** The WasmPlugin spec fields this module reads. */
export interface WasmPluginConfigSpec {
  pluginConfig?: Record<string, unknown>;
  defaultConfig?: Record<string, unknown>;
  defaultConfigDisable?: boolean;
  matchRules?: Array<{ ingress?: string[]; domain?: string[]; service?: string[]; config?: Record<string, unknown>; configDisable?: boolean }>;
}

/** Result: the JSON text for `on_configure` and the scope summary; `undefined` when the plugin is disabled everywhere. */
export function buildPluginConfig(spec: WasmPluginConfigSpec, where: ConfigLocation): { configuration: string; scope: ModelPlugin['scope'] } | undefined {
  if (spec.pluginConfig) {
    return { configuration: JSON.stringify(spec.pluginConfig), scope: scopeOf(spec.pluginConfig) };
  }
  let config: Record<string, unknown> | undefined = spec.defaultConfigDisable ? undefined : spec.defaultConfig;
  let hasValidRule = false;
  if (spec.matchRules?.length) {
    config = config ? { ...config } : {};
    const rules: Array<Record<string, unknown>> = [];
    spec.matchRules.forEach((rule, i) => {
      if (rule.configDisable) return;
      const v: Record<string, unknown> = { ...(rule.config ?? {}) };
      let valid = false;
      if (rule.ingress?.length) { v._match_route_ = [...rule.ingress]; valid = true; }
      if (rule.service?.length) { v._match_service_ = [...rule.service]; valid = true; }
      if (rule.domain?.length) { v._match_domain_ = [...rule.domain]; valid = true; }
      if (!valid) throw new ConfigError(CONFIG_CODES.schema, 'invalid match rule has no match condition (ingress, domain or service)', { ...where, field: `spec.matchRules[${i}]` });
      rules.push(v);
    });
    if (rules.length) { hasValidRule = true; config._rules_ = rules; }
  }
  if (!hasValidRule && spec.defaultConfigDisable) return undefined;
  const text = config ? JSON.stringify(config) : '';
  return { configuration: text, scope: scopeOf(config ?? {}) };
}

/** Which requests a config can apply to (mirrors the SDK's rule matcher). */
export function scopeOf(config: Record<string, unknown>): ModelPlugin['scope'] {
  const scope: ModelPlugin['scope'] = { global: false, routes: [], domains: [], services: [], routePrefixes: [] };
  const rules = Array.isArray(config._rules_) ? (config._rules_ as Array<Record<string, unknown>>) : [];
  const globalKeys = Object.keys(config).filter((k) => k !== '_rules_' && k !== '_plugin_id_');
  scope.global = rules.length === 0 || globalKeys.length > 0;
  const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  for (const r of rules) {
    scope.routes.push(...strs(r._match_route_));
    scope.domains.push(...strs(r._match_domain_));
    scope.services.push(...strs(r._match_service_));
    scope.routePrefixes.push(...strs(r._match_route_prefix_));
  }
  return scope;
}
