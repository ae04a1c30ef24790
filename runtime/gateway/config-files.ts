/**
 * Reads configuration files: a path may be a file or a directory (its `*.yaml`, `*.yml`,
 * `*.json` files, sorted). Each file may hold several YAML documents.
 *
 * The reads are synchronous on purpose: config files are small and local, so a read costs
 * microseconds, while every asynchronous fs step (stat, open, read, close) waits for a turn of an
 * event loop that, during a reload under load, is busy serving traffic; those turns were most of
 * the config-write → new-behaviour time.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError, CONFIG_CODES } from './errors.js';

/** One YAML document with where it came from. */
export interface ConfigDocument {
  file: string;
  index: number;
  value: Record<string, unknown>;
}

/** Expands files and directories to the list of config files (absolute, sorted per directory). */
export async function listConfigFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch (err) {
      throw new ConfigError(CONFIG_CODES.read, `cannot read config: ${(err as Error).message}`, { file: abs }, { cause: err });
    }
    if (st.isDirectory()) {
      const names = readdirSync(abs).filter((n) => ['.yaml', '.yml', '.json'].includes(extname(n))).sort();
      for (const n of names) out.push(join(abs, n));
    } else out.push(abs);
  }
  return out;
}

/** Reads and parses every document of every file. Empty documents are skipped. */
export async function readConfigDocuments(files: string[]): Promise<ConfigDocument[]> {
  const docs: ConfigDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(CONFIG_CODES.read, `cannot read config: ${(err as Error).message}`, { file }, { cause: err });
    }
    const parsed = parseAllDocuments(text, { prettyErrors: true });
    const list = Array.isArray(parsed) ? parsed : [parsed];
    list.forEach((doc, index) => {
      if (doc.errors.length) {
        const e = doc.errors[0];
        throw new ConfigError(CONFIG_CODES.yaml, `YAML error: ${e.message.split('\n')[0]}`, { file, object: `document ${index + 1}` }, { cause: e });
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) return;
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new ConfigError(CONFIG_CODES.schema, 'a config document must be a mapping', { file, object: `document ${index + 1}` });
      }
      docs.push({ file, index, value: value as Record<string, unknown> });
    });
  }
  return docs;
}
