/**
 * Plugin configs and the schema a plugin declares for them in spec.yaml
 * (`spec.configSchema.openAPIV3Schema`, optionally `spec.routeConfigSchema.openAPIV3Schema` for
 * rule-level configs). Reads `--config JSON|@file` options and validates configs with ajv.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { AuthorError, ConfigValidationError } from './errors.js';
import type { PluginSpec } from './plugin-project.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as
  (ajv: Ajv) => Ajv;

/** A plugin config: the JSON object a plugin's `on_configure` receives. */
export type PluginConfig = Record<string, unknown>;

/**
 * Reads a config option: inline JSON (`'{"a":1}'`) or `@file` (JSON or YAML, relative to `cwd`,
 * default the current folder). `what` names the option in errors. Throws HP_CONFIG_UNREADABLE.
 */
export function readConfigOption(value: string, what = '--config', cwd = process.cwd()): PluginConfig {
  let text = value;
  let where = what;
  if (value.startsWith('@')) {
    const file = resolve(cwd, value.slice(1));
    where = `${what} ${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AuthorError('HP_CONFIG_UNREADABLE', `${what}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML is a superset of JSON: one parser for both spellings
  } catch (err) {
    throw new AuthorError('HP_CONFIG_UNREADABLE', `${where}: not valid JSON or YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new AuthorError('HP_CONFIG_UNREADABLE', `${where}: a plugin config must be an object, got ${Array.isArray(doc) ? 'an array' : typeof doc}`);
  }
  return doc as PluginConfig;
}

/** Validators for one plugin's configs, compiled once from its spec.yaml. */
export class ConfigSchema {
  private readonly global?: ValidateFunction;
  private readonly rule?: ValidateFunction;

  /** `spec` missing or without a configSchema: every config is accepted. */
  constructor(spec: PluginSpec | undefined, where = 'spec.yaml') {
    const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
    addFormats(ajv);
    const compile = (schema: Record<string, unknown> | undefined, field: string): ValidateFunction | undefined => {
      if (!schema) return undefined;
      try {
        return ajv.compile(stripOpenApiOnly(schema));
      } catch (err) {
        throw new AuthorError('HP_SPEC_INVALID', `${where}: ${field} is not a valid schema: ${(err as Error).message}`, { cause: err });
      }
    };
    this.global = compile(spec?.spec?.configSchema?.openAPIV3Schema, 'spec.configSchema.openAPIV3Schema');
    this.rule = compile(spec?.spec?.routeConfigSchema?.openAPIV3Schema, 'spec.routeConfigSchema.openAPIV3Schema') ?? this.global;
  }

  /** True when spec.yaml declares a schema to check against. */
  get hasSchema(): boolean {
    return this.global !== undefined;
  }

  /** Checks a global (default) config; throws {@link ConfigValidationError} naming `where`. */
  validate(config: unknown, where = 'the config'): void {
    check(this.global, config, where);
  }

  /** Checks a rule-level config (matchRules[].config): routeConfigSchema if declared, else configSchema. */
  validateRule(config: unknown, where = 'the rule config'): void {
    check(this.rule, config, where);
  }
}

function check(validate: ValidateFunction | undefined, config: unknown, where: string): void {
  if (!validate || validate(config)) return;
  throw new ConfigValidationError(where, (validate.errors ?? []).map(describe));
}

function describe(e: ErrorObject): { path: string; message: string; rule: string } {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` :
    e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')})` : '';
  return { path, message: `${e.message ?? 'invalid'}${extra}`, rule: e.schemaPath };
}

/** OpenAPI's `example` holds data, not a schema; drop it so ajv never reads it as one. */
function stripOpenApiOnly(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'example' || k === 'examples' || k.startsWith('x-')) continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, unknown>)
        .map(([p, s]) => [p, s && typeof s === 'object' ? stripOpenApiOnly(s as Record<string, unknown>) : s]));
    } else if (Array.isArray(v)) {
      out[k] = v.map((s) => (s && typeof s === 'object' && !Array.isArray(s) ? stripOpenApiOnly(s as Record<string, unknown>) : s));
    } else if (v && typeof v === 'object' && k !== 'enum' && k !== 'const' && k !== 'default') {
      out[k] = stripOpenApiOnly(v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** The `example` config of spec.yaml (`configSchema.openAPIV3Schema.example`), if any. */
export function exampleConfig(spec: PluginSpec | undefined): PluginConfig | undefined {
  const ex = spec?.spec?.configSchema?.openAPIV3Schema?.example;
  return ex && typeof ex === 'object' && !Array.isArray(ex) ? (ex as PluginConfig) : undefined;
}
