/**
 * spec.yaml: parsed, validated against `spec/schemas/spec-yaml.schema.json`, its config
 * schemas compiled with ajv and their `example`s validated.
 */
import type { ValidateFunction } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { loadSchema } from '../../spec/index.js';
import { PackageError, SchemaValidationError } from './errors.js';
import { compileConfigSchema, compileStrict, toIssues } from './schema-check.js';

/** The parts of spec.yaml the toolchain reads. */
export interface PluginSpec {
  apiVersion: string;
  info: { name: string; title: string; category: string; version: string; description?: string; [k: string]: unknown };
  spec: {
    phase?: string;
    priority?: number;
    configSchema?: { openAPIV3Schema: Record<string, unknown> };
    routeConfigSchema?: { openAPIV3Schema: Record<string, unknown> };
  };
}

/** A checked spec.yaml with its compiled config validators. */
export interface LoadedSpec {
  spec: PluginSpec;
  /** Validator of the global config (`configSchema`); undefined when the spec has none. */
  configValidator?: ValidateFunction;
  /** Validator of rule-level config (`routeConfigSchema`, else `configSchema`). */
  ruleValidator?: ValidateFunction;
}

let specValidator: ValidateFunction | undefined;

/** Parses and checks spec.yaml text; `file` names it in errors. Throws {@link SchemaValidationError}. */
export function loadPluginSpec(text: string, file: string): LoadedSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}:${err.linePos[0].col}` : '';
    throw new PackageError('HP_PACKAGE_SPEC_YAML', `${file}${where}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  specValidator ??= compileStrict(loadSchema('spec-yaml'));
  if (!specValidator(doc)) throw new SchemaValidationError(file, toIssues(specValidator.errors));
  const spec = doc as PluginSpec;
  const out: LoadedSpec = { spec };
  for (const key of ['configSchema', 'routeConfigSchema'] as const) {
    const holder = spec.spec[key];
    if (!holder) continue;
    const where = `${file} spec.${key}.openAPIV3Schema`;
    const validate = compileConfigSchema(holder.openAPIV3Schema, where);
    const example = holder.openAPIV3Schema.example;
    if (example !== undefined && !validate(example)) {
      throw new SchemaValidationError(`${where}.example`, toIssues(validate.errors), 'does not satisfy the schema it illustrates');
    }
    if (key === 'configSchema') out.configValidator = validate;
    else out.ruleValidator = validate;
  }
  out.ruleValidator ??= out.configValidator;
  return out;
}
