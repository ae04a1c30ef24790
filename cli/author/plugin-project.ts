/**
 * A plugin project on disk (what `higress-plugin init` writes): `assembly/index.ts`, `spec.yaml`,
 * `package.json`, tests under `test/`. Finds its parts and reads its metadata.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AuthorError } from './errors.js';

/** The parts of `spec.yaml` the author commands use (the Higress plugin metadata format). */
export interface PluginSpec {
  apiVersion?: string;
  info?: { name?: string; title?: string; version?: string; category?: string; description?: string; [k: string]: unknown };
  spec?: {
    phase?: string;
    priority?: number;
    configSchema?: { openAPIV3Schema?: Record<string, unknown> };
    routeConfigSchema?: { openAPIV3Schema?: Record<string, unknown> };
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A plugin project folder and what it says about itself. */
export interface PluginProject {
  /** Absolute project folder. */
  dir: string;
  /** Plugin name: `info.name` of spec.yaml, else package.json `name`, else the folder name. */
  name: string;
  /** Parsed spec.yaml; `undefined` when the project has none. */
  spec?: PluginSpec;
  /** Absolute path of spec.yaml (whether or not it exists). */
  specFile: string;
  /** Absolute path of the entry source, `assembly/index.ts`. */
  entry: string;
  /** Where `higress-plugin build` and `test` put the release module: `build/plugin.wasm`. */
  wasmFile: string;
}

/** True when `dir` looks like a plugin project (has `assembly/index.ts`). */
export function isPluginProject(dir: string): boolean {
  return existsSync(join(dir, 'assembly', 'index.ts'));
}

/** Reads the plugin project in `dir` (default: the current folder). Throws HP_NOT_A_PLUGIN_PROJECT. */
export function loadPluginProject(dir = '.'): PluginProject {
  const abs = resolve(dir);
  const entry = join(abs, 'assembly', 'index.ts');
  if (!existsSync(entry)) {
    throw new AuthorError('HP_NOT_A_PLUGIN_PROJECT',
      `${abs} is not a plugin project: ${entry} does not exist (create one with \`higress-plugin init <dir>\`)`);
  }
  const specFile = join(abs, 'spec.yaml');
  const spec = existsSync(specFile) ? readSpecFile(specFile) : undefined;
  return {
    dir: abs,
    name: spec?.info?.name ?? packageName(abs) ?? basename(abs),
    spec,
    specFile,
    entry,
    wasmFile: join(abs, 'build', 'plugin.wasm'),
  };
}

/** Parses a spec.yaml file; throws HP_SPEC_INVALID naming the file when it is not a YAML mapping. */
export function readSpecFile(file: string): PluginSpec {
  return parseSpecText(readFileSync(file, 'utf8'), file);
}

/** Parses spec.yaml text (from a file or an image layer); `where` names it in errors. */
export function parseSpecText(text: string, where: string): PluginSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AuthorError('HP_SPEC_INVALID', `${where}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new AuthorError('HP_SPEC_INVALID', `${where}: expected a mapping with \`info\` and \`spec\``);
  }
  return doc as PluginSpec;
}

function packageName(dir: string): string | undefined {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    const name = JSON.parse(readFileSync(file, 'utf8')).name;
    return typeof name === 'string' && name ? name.replace(/^@[^/]+\//, '') : undefined;
  } catch {
    return undefined;
  }
}
