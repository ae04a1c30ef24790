/**
 * `build`: compile the plugin, check the module, record provenance, and package it as
 * plugin.wasm, plugin.tar.gz and an OCI image layout in the Higress layout — reproducibly.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { compilePlugin } from '../compile.js';
import { ANNOTATIONS, IMAGE, PACKAGE_ROOT } from '../../spec/index.js';
import { buildPluginImage, pluginArchive, type BuiltImage } from '../../runtime/oci/plugin-image.js';
import { ImageLayout } from '../../runtime/oci/image-layout.js';
import { wasmInfo, type WasmInfo } from '../../runtime/oci/wasm-info.js';
import type { Descriptor } from '../../runtime/oci/descriptor.js';
import { ModuleCheckError, PackageError } from './errors.js';
import { loadPluginSpec, type PluginSpec } from './plugin-spec.js';

/** Options of {@link buildPlugin}. */
export interface BuildOptions {
  /** Plugin project folder (holds `assembly/index.ts` and `spec.yaml`); default the current folder. */
  dir?: string;
  /** Output folder; default `<dir>/dist`. */
  outDir?: string;
  /** Debug build (names, source map, no optimisation); default release. */
  debug?: boolean;
  /**
   * `org.opencontainers.image.created`; default `$SOURCE_DATE_EPOCH`, else the newest
   * modification time of the sources, so rebuilding unchanged sources gives the same manifest.
   */
  created?: string;
  /** Tag recorded in the layout's index.json; default spec.yaml `info.version`. */
  tag?: string;
  /** Reports each step (for a progress line); default silent. */
  onStep?: (step: string) => void;
}

/** What a build produced. */
export interface BuildResult {
  outDir: string;
  wasmPath: string;
  archivePath: string;
  /** The OCI layout folder (same as outDir). */
  layoutDir: string;
  tag: string;
  /** Manifest descriptor of the image. */
  manifest: Descriptor;
  layers: Descriptor[];
  wasm: WasmInfo;
  spec: PluginSpec;
  image: BuiltImage;
  ms: number;
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const e of readdirSync(path)) if (e !== 'node_modules' && e !== 'build' && e !== 'dist') max = Math.max(max, newestMtime(join(path, e)));
  return max;
}

/** RFC 3339 without fractional seconds. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function toolVersion(rel: string): string {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_ROOT, rel), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}

/** Checks the module is a proxy-wasm plugin a host can instantiate. Throws {@link ModuleCheckError}. */
export function checkPluginModule(info: WasmInfo, where: string): void {
  if (!info.abiVersion) {
    throw new ModuleCheckError(`${where} exports no proxy-wasm ABI marker (proxy_abi_version_0_2_1, _0_2_0 or _0_1_0): hosts refuse such a module`);
  }
  if (info.unknownImports.length) {
    throw new ModuleCheckError(`${where} imports functions no proxy-wasm host provides: ${info.unknownImports.join(', ')}. ` +
      'Only proxy-wasm ABI functions (module "env") and the WASI subset are available.');
  }
}

/**
 * Adds the `producers` section with jco (imported lazily; it is heavy): language
 * AssemblyScript, processed-by higress-plugin, sdk @higress-plugin/sdk when the plugin uses it,
 * and the plugin itself as `processed-by` entry `plugin:<name>` (the section has no free fields).
 */
async function addProducers(wasm: Uint8Array, spec: PluginSpec, usesSdk: boolean): Promise<Uint8Array> {
  const { metadataAdd } = await import('@bytecodealliance/jco');
  const fields: Array<[string, Array<[string, string]>]> = [
    ['language', [['AssemblyScript', toolVersion('node_modules/assemblyscript/package.json')]]],
    ['processed-by', [['higress-plugin', toolVersion('package.json')], [`plugin:${spec.info.name}`, spec.info.version]]],
  ];
  if (usesSdk) fields.push(['sdk', [['@higress-plugin/sdk', toolVersion('sdk/package.json')]]]);
  return metadataAdd(wasm, fields as never) as Promise<Uint8Array>;
}

function usesSdk(dir: string): boolean {
  const walk = (p: string): boolean =>
    statSync(p).isDirectory() ? readdirSync(p).some((e) => walk(join(p, e))) : p.endsWith('.ts') && readFileSync(p, 'utf8').includes('@higress-plugin/sdk');
  return existsSync(join(dir, 'assembly')) && walk(join(dir, 'assembly'));
}

/** Builds the plugin in `options.dir`. Throws CompileError, SchemaValidationError, ModuleCheckError. */
export async function buildPlugin(options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const dir = resolve(options.dir ?? '.');
  const outDir = resolve(options.outDir ?? join(dir, 'dist'));
  const step = options.onStep ?? (() => undefined);
  const specPath = join(dir, IMAGE.pluginFiles.spec);
  if (!existsSync(specPath)) throw new PackageError('HP_PACKAGE_NO_SPEC', `${specPath} is missing: every plugin image carries a spec.yaml (name, version, config schema)`);
  step('checking spec.yaml');
  const specText = readFileSync(specPath);
  const { spec } = loadPluginSpec(specText.toString('utf8'), specPath);

  step(`compiling (${options.debug ? 'debug' : 'release'})`);
  const { outFile } = await compilePlugin({ dir, debug: options.debug });
  const compiled = readFileSync(outFile);
  let info: WasmInfo;
  try {
    info = wasmInfo(compiled);
  } catch (err) {
    throw new ModuleCheckError(`${outFile} is not a valid WebAssembly module: ${(err as Error).message}`);
  }
  checkPluginModule(info, outFile);

  step('recording provenance');
  const wasm = Buffer.from(await addProducers(compiled, spec, usesSdk(dir)));
  info = wasmInfo(wasm);

  const readmes = readdirSync(dir)
    .filter((f) => /^README(_[A-Za-z-]+)?\.md$/.test(f))
    .map((name) => ({ name, data: readFileSync(join(dir, name)) }));
  const iconPath = join(dir, IMAGE.pluginFiles.icon);
  const icon = existsSync(iconPath) ? readFileSync(iconPath) : undefined;
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const created = options.created ?? (epoch && /^\d+$/.test(epoch)
    ? rfc3339(Number(epoch) * 1000)
    : rfc3339(Math.max(newestMtime(join(dir, 'assembly')), newestMtime(specPath), newestMtime(join(dir, 'package.json')), newestMtime(iconPath), ...readmes.map((r) => newestMtime(join(dir, r.name))))));
  const annotations: Record<string, string> = { [ANNOTATIONS.version]: spec.info.version };
  if (spec.info.description) annotations[ANNOTATIONS.description] = spec.info.description;
  annotations[ANNOTATIONS.title] = spec.info.name;

  step('packaging');
  const image = buildPluginImage({ wasm, spec: specText, readmes, icon, created, annotations });
  await mkdir(outDir, { recursive: true });
  // A fresh layout each time: stale blobs of earlier builds would be pushed by nobody but confuse readers.
  rmSync(join(outDir, IMAGE.ociLayout.blobs), { recursive: true, force: true });
  rmSync(join(outDir, IMAGE.ociLayout.index), { force: true });
  const wasmPath = join(outDir, IMAGE.pluginFiles.wasm);
  const archivePath = join(outDir, IMAGE.pluginFiles.archive);
  await writeFile(wasmPath, wasm);
  await writeFile(archivePath, pluginArchive(wasm));
  // The module's sourceMappingURL names the map beside the compiled file; keep it beside ours too.
  if (options.debug && existsSync(`${outFile}.map`)) await writeFile(join(outDir, `${basename(outFile)}.map`), readFileSync(`${outFile}.map`));
  const layout = new ImageLayout(outDir);
  await layout.init();
  for (const desc of [image.manifest.config, ...image.manifest.layers]) await layout.push(desc, image.blobs.get(desc.digest)!);
  await layout.push(image.descriptor, image.manifestBytes);
  const tag = options.tag ?? spec.info.version;
  await layout.tag(image.descriptor, tag);
  return {
    outDir, wasmPath, archivePath, layoutDir: outDir, tag, manifest: image.descriptor, layers: image.manifest.layers, wasm: info, spec, image,
    ms: performance.now() - started,
  };
}
