/**
 * `inspect`: what an image, image layout or module holds — manifest, layers, sizes, digest,
 * plugin info from spec.yaml, ABI version, imports/exports and producers metadata.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ANNOTATIONS, MEDIA_TYPES } from '../../spec/index.js';
import { sha256Digest } from '../../runtime/oci/digest.js';
import type { Descriptor, Manifest } from '../../runtime/oci/descriptor.js';
import { parseManifest, selectPluginLayer, wasmFromLayer, type PluginImageFormat } from '../../runtime/oci/plugin-image.js';
import { Repository, type RepositoryOptions } from '../../runtime/oci/registry-client.js';
import { manifestReference, parseReference } from '../../runtime/oci/reference.js';
import { fetchPluginManifest } from '../../runtime/oci/image-copy.js';
import { wasmInfo, type WasmInfo } from '../../runtime/oci/wasm-info.js';
import { findLayout } from './image-source.js';
import { PackageError } from './errors.js';

/** Everything `inspect` reports. Image fields are absent for a bare module. */
export interface Inspection {
  source: string;
  kind: 'registry' | 'layout' | 'module';
  digest?: string;
  mediaType?: string;
  created?: string;
  annotations?: Record<string, string>;
  format?: PluginImageFormat;
  config?: Descriptor;
  layers?: Array<Descriptor & { title?: string }>;
  totalSize?: number;
  plugin?: { name?: string; title?: string; version?: string; category?: string; phase?: string; priority?: number; description?: string; hasConfigSchema: boolean };
  module?: WasmInfo & { sha256: string };
  /** Raw spec.yaml text (for `validate --spec <ref>`). */
  specText?: string;
}

type Fetch = (d: Descriptor) => Promise<Uint8Array>;

async function fromManifest(source: string, kind: 'registry' | 'layout', desc: Descriptor, manifestBytes: Uint8Array, fetch: Fetch): Promise<Inspection> {
  const manifest: Manifest = parseManifest(manifestBytes, source);
  const out: Inspection = {
    source, kind, digest: desc.digest, mediaType: manifest.mediaType ?? desc.mediaType, created: manifest.annotations?.[ANNOTATIONS.created],
    annotations: manifest.annotations, config: manifest.config,
    layers: manifest.layers.map((l) => ({ ...l, title: l.annotations?.[ANNOTATIONS.title] })),
    totalSize: manifestBytes.byteLength + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
  };
  const specLayer = manifest.layers.find((l) => l.mediaType === MEDIA_TYPES.spec);
  if (specLayer) {
    out.specText = Buffer.from(await fetch(specLayer)).toString('utf8');
    try {
      const doc = parseYaml(out.specText) as { info?: Record<string, unknown>; spec?: Record<string, unknown> } | null;
      const info = doc?.info ?? {};
      const spec = doc?.spec ?? {};
      out.plugin = {
        name: info.name as string | undefined, title: info.title as string | undefined, version: info.version as string | undefined,
        category: info.category as string | undefined, description: info.description as string | undefined,
        phase: spec.phase as string | undefined, priority: spec.priority as number | undefined, hasConfigSchema: !!spec.configSchema,
      };
    } catch {
      /* an unparsable spec.yaml is shown raw only */
    }
  }
  const picked = selectPluginLayer(manifest, desc.mediaType);
  out.format = picked.format;
  const wasm = wasmFromLayer(picked, await fetch(picked.layer));
  out.module = { ...wasmInfo(wasm), sha256: sha256Digest(wasm) };
  return out;
}

/** Inspects a `.wasm` file, an image layout / plugin project folder, or a registry reference. */
export async function inspectTarget(target: string, registry: RepositoryOptions = {}): Promise<Inspection> {
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = target.startsWith('oci://') ? undefined : statSync(target);
  } catch {
    stat = undefined;
  }
  if (stat?.isFile()) {
    const data = readFileSync(target);
    let info: WasmInfo;
    try {
      info = wasmInfo(data);
    } catch (err) {
      throw new PackageError('HP_PACKAGE_MODULE', `${target} is not a WebAssembly module: ${(err as Error).message}`);
    }
    return { source: resolve(target), kind: 'module', module: { ...info, sha256: sha256Digest(data) } };
  }
  if (stat?.isDirectory()) {
    const layout = findLayout(target);
    const desc = await layout.resolve();
    return fromManifest(layout.dir, 'layout', desc, await layout.fetch(desc), (d) => layout.fetch(d));
  }
  const ref = parseReference(target);
  const repo = new Repository(ref, registry);
  const { descriptor, bytes } = await fetchPluginManifest(repo, manifestReference(ref));
  return fromManifest(repo.toString(), 'registry', descriptor, bytes, (d) => repo.fetch(d));
}
