/**
 * Plugin configs and the schema a plugin declares for them in spec.yaml
 * (`spec.configSchema.openAPIV3Schema`, optionally `spec.routeConfigSchema.openAPIV3Schema` for
 * rule-level configs). Reads `--config JSON|@file` options and validates configs with ajv.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ValidateFunction } from 'ajv';
import { compileConfigSchema, toIssues } from '../package/schema-check.js';
import { AuthorError, ConfigValidationError } from './errors.js';
import type { PluginSpec } from './plugin-project.js';

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

  /**
   * `spec` missing or without a configSchema: every config is accepted. The schema is compiled as
   * `higress-plugin build` compiles it (OpenAPI annotations allowed, unknown keywords are errors),
   * so run, manifest and build agree on what a valid schema is.
   */
  constructor(spec: PluginSpec | undefined, where = 'spec.yaml') {
    const compile = (schema: Record<string, unknown> | undefined, field: string): ValidateFunction | undefined => {
      if (!schema) return undefined;
      try {
        return compileConfigSchema(schema, `${where} ${field}`);
      } catch (err) {
        throw new AuthorError('HP_SPEC_INVALID', (err as Error).message, { cause: err });
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
  throw new ConfigValidationError(where, toIssues(validate.errors));
}

/** The `example` config of spec.yaml (`configSchema.openAPIV3Schema.example`), if any. */
export function exampleConfig(spec: PluginSpec | undefined): PluginConfig | undefined {
  const ex = spec?.spec?.configSchema?.openAPIV3Schema?.example;
  return ex && typeof ex === 'object' && !Array.isArray(ex) ? (ex as PluginConfig) : undefined;
}
