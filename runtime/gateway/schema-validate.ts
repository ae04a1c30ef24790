/**
 * JSON Schema validation (ajv) of every configuration object the gateway reads, against the
 * schemas in `spec/schemas/`. Failures name the file, the object and the field.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { loadSchema } from '../../spec/index.js';
import { ConfigError, CONFIG_CODES, type ConfigLocation } from './errors.js';

const ajv = new Ajv({ allErrors: false, strict: false });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
const cache = new Map<string, ValidateFunction>();

/** Validates `value` against `spec/schemas/<schema>.schema.json`; throws a ConfigError naming the field. */
export function validateAgainst(schema: string, value: unknown, where: ConfigLocation): void {
  let fn = cache.get(schema);
  if (!fn) cache.set(schema, (fn = ajv.compile(loadSchema(schema))));
  if (fn(value)) return;
  const e = fn.errors![0];
  const field = e.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.') || '(root)';
  let msg = e.message ?? 'is invalid';
  if (e.keyword === 'enum') msg += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  if (e.keyword === 'additionalProperties') msg += `: ${(e.params as { additionalProperty: string }).additionalProperty}`;
  throw new ConfigError(CONFIG_CODES.schema, msg, { ...where, field: where.field ? `${where.field}.${field}` : field });
}
