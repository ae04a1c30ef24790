/**
 * Writes a new plugin project from the templates in `cli/templates/`: the files of `_common/`
 * plus those of the chosen template (which win on a clash), with `{{name}}`-style placeholders
 * filled in. `asconfig.json` is generated from the compiler flags `higress-plugin build` uses,
 * so the two never disagree.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { ascFlags } from '../compile.js';
import { AuthorError } from './errors.js';

/** The templates `init --template` accepts, with what each one shows. */
export const TEMPLATES = {
  hello: 'adds a request and a response header and logs each request (the smallest plugin)',
  auth: 'API-key authentication: 401 without a valid key, per-consumer header, per-route allow lists',
  'http-call': 'asks an HTTP service before letting a request through (pauses the request, resumes or denies)',
  body: 'reads and rewrites the response body (buffered), e.g. to replace words in it',
} as const;

/** Name of a template under `cli/templates/`. */
export type TemplateName = keyof typeof TEMPLATES;

/** Folder holding the template sources. */
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'cli', 'templates');

/** Files whose template name differs from the name they get (npm drops dot-files from packages). */
const RENAMES: Record<string, string> = { _gitignore: '.gitignore' };

/** What {@link scaffoldProject} needs. */
export interface ScaffoldOptions {
  /** Folder to create; it may exist if it is empty. */
  dir: string;
  /** Plugin name: lower-case letters, digits and dashes (it becomes the image name and `pluginName`). */
  name: string;
  /** Template; default `hello`. */
  template?: TemplateName;
}

/** Checks a plugin name; returns an error message, or undefined when the name is fine. */
export function checkPluginName(name: string): string | undefined {
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name)) {
    return `"${name}" is not a valid plugin name: use lower-case letters, digits and single dashes (e.g. my-plugin)`;
  }
  if (name.length > 63) return `"${name}" is too long for a plugin name (at most 63 characters)`;
  return undefined;
}

/** Turns a folder name into a plugin name suggestion (`My Plugin_2` → `my-plugin-2`). */
export function suggestPluginName(folder: string): string {
  const s = folder.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'my-plugin';
}

/** True when `name` is one of {@link TEMPLATES}. */
export function isTemplateName(name: string): name is TemplateName {
  return Object.prototype.hasOwnProperty.call(TEMPLATES, name);
}

/**
 * Writes the project. Throws HP_INIT_BAD_NAME, HP_UNKNOWN_TEMPLATE, or HP_INIT_TARGET_NOT_EMPTY
 * (an existing non-empty folder is never written into). Returns the files written, relative to `dir`.
 */
export function scaffoldProject(options: ScaffoldOptions): string[] {
  const template = options.template ?? 'hello';
  if (!isTemplateName(template)) {
    throw new AuthorError('HP_UNKNOWN_TEMPLATE', `unknown template "${template}"; choose one of: ${Object.keys(TEMPLATES).join(', ')}`);
  }
  const bad = checkPluginName(options.name);
  if (bad) throw new AuthorError('HP_INIT_BAD_NAME', bad);
  const dir = resolve(options.dir);
  if (existsSync(dir) && readdirSync(dir).some((e) => e !== '.git')) {
    throw new AuthorError('HP_INIT_TARGET_NOT_EMPTY', `${dir} already exists and is not empty; choose a new folder`);
  }
  const vars: Record<string, string> = {
    name: options.name,
    title: options.name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join(' '),
    template,
    cliVersion: JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version,
  };
  const files = new Map<string, string>(); // relative output path → template source path
  for (const layer of ['_common', template]) {
    for (const src of listFiles(join(TEMPLATES_DIR, layer))) {
      const rel = relative(join(TEMPLATES_DIR, layer), src).split('/').map((p) => RENAMES[p] ?? p).join('/');
      files.set(rel, src);
    }
  }
  const written: string[] = [];
  for (const [rel, src] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const text = readFileSync(src, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, k: string) => vars[k] ?? m);
    writeOut(join(dir, rel), text);
    written.push(rel);
  }
  writeOut(join(dir, 'asconfig.json'), `${JSON.stringify(asconfig(), null, 2)}\n`);
  written.push('asconfig.json');
  return written.sort();
}

function writeOut(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/** asc's config file for the project, from the same flags `compilePlugin` passes (for editors and plain `asc`). */
function asconfig(): Record<string, unknown> {
  const toOptions = (flags: string[]): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < flags.length; i++) {
      const key = flags[i].replace(/^--/, '');
      const next = flags[i + 1];
      const value: unknown = next === undefined || next.startsWith('--') ? true : (i++, /^\d+$/.test(next) ? Number(next) : next);
      if (key === 'use') o.use = [...((o.use as string[]) ?? []), value];
      else if (key !== 'noColors') o[key] = value;
    }
    return o;
  };
  const release = toOptions(ascFlags(false));
  const debug = toOptions(ascFlags(true));
  const shared: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(release)) {
    if (JSON.stringify(debug[k]) === JSON.stringify(v)) {
      shared[k] = v;
      delete release[k];
      delete debug[k];
    }
  }
  // No `entries` and no target named `release`: asc applies both implicitly whenever it runs in
  // this folder, which would add a second entry and release flags to every build `higress-plugin`
  // starts. Plain asc users pick a target: `asc assembly/index.ts --target production`.
  return {
    targets: {
      production: { outFile: 'build/plugin.wasm', ...release },
      debug: { outFile: 'build/plugin.debug.wasm', ...debug },
    },
    options: shared,
  };
}
