/**
 * `validate`: checks a plugin config — a plain config file, the merged form with `_rules_`, or
 * whole WasmPlugin manifests (defaultConfig and every matchRules config) — against the plugin's
 * config schema from spec.yaml. Every problem carries its JSON path and the schema rule.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { IMAGE, loadSchema } from '../../spec/index.js';
import type { RepositoryOptions } from '../../runtime/oci/registry-client.js';
import { PackageError, type SchemaIssue } from './errors.js';
import { loadPluginSpec, type LoadedSpec } from './plugin-spec.js';
import { compileStrict, toIssues } from './schema-check.js';
import { inspectTarget } from './inspect-plugin.js';
import { findLayout } from './image-source.js';

/** One checked document of the input file. */
export interface DocumentReport {
  /** 0-based index of the YAML document. */
  index: number;
  kind: 'WasmPlugin' | 'config';
  /** metadata.name of a WasmPlugin. */
  name?: string;
  issues: SchemaIssue[];
}

/** The outcome of a validation. */
export interface ValidationReport {
  file: string;
  /** Where the schema came from (file path or image reference). */
  specSource: string;
  valid: boolean;
  documents: DocumentReport[];
}

const MATCH_KEYS = ['_match_route_', '_match_domain_', '_match_service_', '_match_route_prefix_', '_plugin_id_'];

function strip(config: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function check(validate: ValidateFunction | undefined, value: unknown, path: string, issues: SchemaIssue[]): void {
  if (!validate) return;
  if (!validate(value)) issues.push(...toIssues(validate.errors, path));
}

/**
 * Loads the plugin's spec.yaml from `spec` (a spec.yaml file, a plugin project or layout
 * folder, or an image reference). Left out: the WasmPlugin's own `oci://` url when the input
 * has one, else `./spec.yaml`.
 */
export async function resolveSpec(spec: string | undefined, fallbackUrl: string | undefined, registry: RepositoryOptions): Promise<{ loaded: LoadedSpec; source: string }> {
  let target = spec;
  if (!target) {
    if (fallbackUrl?.startsWith('oci://')) target = fallbackUrl;
    else if (existsSync(IMAGE.pluginFiles.spec)) target = IMAGE.pluginFiles.spec;
    else throw new PackageError('HP_PACKAGE_NO_SPEC', 'no plugin schema: pass --spec <spec.yaml | plugin dir | image ref>');
  }
  if (!target.startsWith('oci://') && existsSync(target)) {
    if (statSync(target).isFile()) return { loaded: loadPluginSpec(readFileSync(target, 'utf8'), target), source: target };
    const direct = join(target, IMAGE.pluginFiles.spec);
    if (existsSync(direct)) return { loaded: loadPluginSpec(readFileSync(direct, 'utf8'), direct), source: direct };
    findLayout(target); // throws a helpful error when the folder holds neither
  }
  const inspected = await inspectTarget(target, registry);
  if (!inspected.specText) throw new PackageError('HP_PACKAGE_NO_SPEC', `${target} carries no spec.yaml layer, so it has no config schema`);
  return { loaded: loadPluginSpec(inspected.specText, `${target} spec.yaml`), source: target };
}

let wasmPluginValidator: ValidateFunction | undefined;

/** Validates `file` (YAML or JSON, possibly several YAML documents). */
export async function validateFile(file: string, options: { spec?: string; registry?: RepositoryOptions } = {}): Promise<ValidationReport> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PackageError('HP_PACKAGE_READ', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new PackageError('HP_PACKAGE_YAML', `${file}: not valid YAML/JSON: ${d.errors[0].message.split('\n')[0]}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) values.push(v);
  }
  const isPlugin = (v: unknown): v is { kind: string; metadata?: { name?: string }; spec?: Record<string, unknown> } =>
    typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'WasmPlugin';
  const firstUrl = values.find(isPlugin)?.spec?.url as string | undefined;
  const { loaded, source } = await resolveSpec(options.spec, firstUrl, options.registry ?? {});
  const documents: DocumentReport[] = [];
  values.forEach((value, index) => {
    const issues: SchemaIssue[] = [];
    if (isPlugin(value)) {
      wasmPluginValidator ??= compileStrict(loadSchema('wasmplugin'));
      check(wasmPluginValidator, value, '$', issues);
      const spec = value.spec ?? {};
      if (spec.defaultConfig !== undefined && spec.defaultConfigDisable !== true) check(loaded.configValidator, spec.defaultConfig, '$.spec.defaultConfig', issues);
      const rules = Array.isArray(spec.matchRules) ? spec.matchRules : [];
      rules.forEach((rule: { config?: unknown; configDisable?: boolean }, i: number) => {
        if (rule?.config !== undefined && rule.configDisable !== true) check(loaded.ruleValidator, rule.config, `$.spec.matchRules[${i}].config`, issues);
      });
      documents.push({ index, kind: 'WasmPlugin', name: value.metadata?.name, issues });
      return;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      documents.push({ index, kind: 'config', issues: [{ path: '$', rule: 'type', message: 'a plugin config must be an object' }] });
      return;
    }
    const config = value as Record<string, unknown>;
    const rules = Array.isArray(config._rules_) ? (config._rules_ as Array<Record<string, unknown>>) : undefined;
    const global = strip(config, ['_rules_', ...MATCH_KEYS]);
    // In the merged form an empty global part means "rules only"; do not demand required keys there.
    if (!rules || Object.keys(global).length) check(loaded.configValidator, global, '$', issues);
    rules?.forEach((r, i) => check(loaded.ruleValidator, strip(r, MATCH_KEYS), `$._rules_[${i}]`, issues));
    documents.push({ index, kind: 'config', issues });
  });
  return { file, specSource: source, valid: documents.every((d) => d.issues.length === 0), documents };
}
