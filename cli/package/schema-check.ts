/**
 * JSON Schema checks with ajv, reported as {@link SchemaIssue}s (JSON path + rule). Plugin
 * config schemas are OpenAPI v3 schemas: `example`, `x-*` and `nullable` are allowed.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import type { SchemaIssue } from './errors.js';
import { PackageError } from './errors.js';

const require = createRequire(import.meta.url);
// ajv and ajv-formats are CommonJS with default exports; require keeps their types simple under NodeNext.
const Ajv = require('ajv').default as typeof import('ajv').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

/** Keywords OpenAPI/Higress schemas use that are annotations, not validation rules. */
const ANNOTATION_KEYWORDS = ['example', 'x-scope', 'x-title-i18n', 'x-description-i18n', 'x-kubernetes-preserve-unknown-fields', 'x-example',  'externalDocs', 'xml', 'discriminator'];

function newAjv(strict: boolean) {
  const ajv = new Ajv({ allErrors: true, strict, strictTypes: false, strictRequired: false, allowUnionTypes: true, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

let strictAjv: ReturnType<typeof newAjv> | undefined;
let openApiAjv: ReturnType<typeof newAjv> | undefined;
/** Annotation keywords added to `openApiAjv` (ajv's getKeyword does not report definition-less ones). */
const added = new Set<string>();

function annotation(ajv: ReturnType<typeof newAjv>, keyword: string): void {
  if (added.has(keyword)) return;
  added.add(keyword);
  if (!ajv.getKeyword(keyword)) ajv.addKeyword(keyword);
}

/** Compiles one of our own JSON Schemas (strict mode: typos in the schema are errors). */
export function compileStrict(schema: object): ValidateFunction {
  strictAjv ??= newAjv(false);
  return strictAjv.compile(schema);
}

/**
 * Compiles a plugin's `openAPIV3Schema`. Unknown keywords fail (they are usually typos) except
 * the OpenAPI/Higress annotations and any `x-*` extension.
 */
export function compileConfigSchema(schema: object, where: string): ValidateFunction {
  if (!openApiAjv) {
    openApiAjv = newAjv(true);
    for (const k of ANNOTATION_KEYWORDS) annotation(openApiAjv, k);
  }
  const copy = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  registerExtensions(copy, openApiAjv);
  try {
    return openApiAjv.compile(copy);
  } catch (err) {
    const message = (err as Error).message;
    const hint = /unknown keyword/.test(message)
      ? ' (a misspelt keyword, or text with ", " left unquoted inside a { … } YAML mapping, which splits it into a new key)'
      : '';
    throw new PackageError('HP_PACKAGE_CONFIG_SCHEMA', `${where}: the openAPIV3Schema does not compile: ${message}${hint}`, { cause: err });
  }
}

function registerExtensions(node: unknown, ajv: ReturnType<typeof newAjv>): void {
  if (Array.isArray(node)) return node.forEach((n) => registerExtensions(n, ajv));
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-')) annotation(ajv, k);
    if (k !== 'example' && k !== 'enum' && k !== 'default' && k !== 'const') registerExtensions(v, ajv);
  }
}

/** ajv errors → issues with `$`-rooted JSON paths. */
export function toIssues(errors: ErrorObject[] | null | undefined, root = '$'): SchemaIssue[] {
  return (errors ?? []).map((e) => {
    let path = root + e.instancePath.split('/').slice(1).map((p) => {
      const seg = p.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
    }).join('');
    let message = e.message ?? 'invalid';
    if (e.keyword === 'required') path += `.${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') message = `unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    if (e.keyword === 'enum') message += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    return { path, rule: e.keyword, message };
  });
}
