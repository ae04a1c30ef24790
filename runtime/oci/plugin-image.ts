/**
 * Plugin images: the Higress layout (README files, spec.yaml, optional icon, plugin.tar.gz
 * last; REFERENCE §2), the two other layouts Istio/Higress accept (Docker last layer, two-layer
 * wasm content), and extracting `plugin.wasm` by the rules Istio/Higress pull with.
 */
import { ANNOTATIONS, IMAGE, MEDIA_TYPES } from '../../spec/index.js';
import { describe, isIndexType, type Descriptor, type ImageIndex, type Manifest } from './descriptor.js';
import { InvalidPluginImageError, OciError } from './errors.js';
import { createTar, gunzipBounded, gzipReproducible, readTar } from './tar-gz.js';

/** A file that goes into the image as one layer. */
export interface ImageFile {
  /** File name, recorded as the layer's `org.opencontainers.image.title`. */
  name: string;
  data: Uint8Array;
}

/** Inputs of {@link buildPluginImage}. */
export interface PluginImageInput {
  /** The compiled module. */
  wasm: Uint8Array;
  /** spec.yaml bytes; left out → no spec layer. */
  spec?: Uint8Array;
  /** README.md and README_{LANG}.md files; order does not matter (sorted for reproducibility). */
  readmes?: ImageFile[];
  /** icon.png bytes; left out → no icon layer. */
  icon?: Uint8Array;
  /** `org.opencontainers.image.created` (RFC 3339); required so builds stay reproducible. */
  created: string;
  /** Extra manifest annotations (version, description, source). */
  annotations?: Record<string, string>;
}

/** A built image: its manifest, the manifest bytes and descriptor, and every blob by digest. */
export interface BuiltImage {
  manifest: Manifest;
  manifestBytes: Buffer;
  descriptor: Descriptor;
  /** Config and layer contents keyed by digest. */
  blobs: Map<string, Buffer>;
}

/** The media type of a README file name (`README.md`, `README_EN.md` → `…doc.v1.en+markdown`). */
export function readmeMediaType(name: string): string {
  const m = /^README_([A-Za-z-]+)\.md$/.exec(name);
  return m ? `${MEDIA_TYPES.readmeLangPrefix}${m[1].toLowerCase()}${MEDIA_TYPES.readmeLangSuffix}` : MEDIA_TYPES.readme;
}

/** plugin.tar.gz holding `plugin.wasm`, byte-identical for identical wasm. */
export function pluginArchive(wasm: Uint8Array): Buffer {
  return gzipReproducible(createTar([{ name: IMAGE.pluginFiles.wasm, data: wasm }]));
}

function finish(manifest: Manifest, blobs: Map<string, Buffer>): BuiltImage {
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, manifestBytes, descriptor: describe(manifest.mediaType!, manifestBytes), blobs };
}

function layer(mediaType: string, name: string, data: Uint8Array, blobs: Map<string, Buffer>): Descriptor {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  blobs.set(describe(mediaType, buf).digest, buf);
  return describe(mediaType, buf, { [ANNOTATIONS.title]: name });
}

/**
 * The Higress layout: language READMEs, README.md, spec.yaml, icon.png, then plugin.tar.gz as
 * the LAST layer (Istio/Higress read the last layer). Config is the OCI empty descriptor with
 * `artifactType` set, as image-spec requires for an empty config.
 */
export function buildPluginImage(input: PluginImageInput): BuiltImage {
  const blobs = new Map<string, Buffer>();
  const layers: Descriptor[] = [];
  const readmes = [...(input.readmes ?? [])].sort((a, b) => {
    const la = a.name === IMAGE.pluginFiles.readme;
    const lb = b.name === IMAGE.pluginFiles.readme;
    return la === lb ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : la ? 1 : -1;
  });
  for (const r of readmes) layers.push(layer(readmeMediaType(r.name), r.name, r.data, blobs));
  if (input.spec) layers.push(layer(MEDIA_TYPES.spec, IMAGE.pluginFiles.spec, input.spec, blobs));
  if (input.icon) layers.push(layer(MEDIA_TYPES.iconPng, IMAGE.pluginFiles.icon, input.icon, blobs));
  layers.push(layer(MEDIA_TYPES.ociLayerTarGzip, IMAGE.pluginFiles.archive, pluginArchive(input.wasm), blobs));
  const empty = Buffer.from(IMAGE.emptyConfig.data);
  blobs.set(IMAGE.emptyConfig.digest, empty);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: MEDIA_TYPES.wasmConfig,
    config: { mediaType: IMAGE.emptyConfig.mediaType, digest: IMAGE.emptyConfig.digest, size: IMAGE.emptyConfig.size },
    layers,
    annotations: { [ANNOTATIONS.created]: input.created, ...input.annotations },
  };
  return finish(manifest, blobs);
}

/**
 * The Docker-compatible layout Istio accepts first: a Docker v2 manifest whose last layer is a
 * `rootfs.diff.tar.gzip` holding `plugin.wasm`.
 */
export function buildDockerPluginImage(wasm: Uint8Array): BuiltImage {
  const blobs = new Map<string, Buffer>();
  const tar = createTar([{ name: IMAGE.pluginFiles.wasm, data: wasm }]);
  const gz = gzipReproducible(tar);
  const l = describe(MEDIA_TYPES.dockerLayerTarGzip, gz);
  blobs.set(l.digest, gz);
  const config = Buffer.from(JSON.stringify({ architecture: 'wasm', os: 'wasip1', config: {}, rootfs: { type: 'layers', diff_ids: [describe('', tar).digest] } }));
  const c = describe(MEDIA_TYPES.dockerConfig, config);
  blobs.set(c.digest, config);
  return finish({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest, config: c, layers: [l] }, blobs);
}

/**
 * The two-layer wasm artifact layout: config `application/vnd.module.wasm.config.v1+json`,
 * the raw module as a `wasm.content.layer`, and a second layer (spec.yaml, or an empty JSON).
 */
export function buildWasmLayerPluginImage(wasm: Uint8Array, spec?: Uint8Array): BuiltImage {
  const blobs = new Map<string, Buffer>();
  const config = Buffer.from('{}');
  const c = describe(MEDIA_TYPES.wasmConfig, config);
  blobs.set(c.digest, config);
  const layers = [
    layer(MEDIA_TYPES.wasmContentLayer, IMAGE.pluginFiles.wasm, wasm, blobs),
    layer(MEDIA_TYPES.spec, IMAGE.pluginFiles.spec, spec ?? Buffer.from('{}\n'), blobs),
  ];
  return finish({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: c, layers }, blobs);
}

/** Which of the three layouts a plugin came from. */
export type PluginImageFormat = 'docker' | 'oci' | 'wasm-layer';

/** Checks the `\0asm` magic. */
export function checkWasmMagic(data: Uint8Array, where: string): void {
  const magic = Buffer.from(IMAGE.wasmMagic, 'hex');
  if (data.byteLength < 8 || !Buffer.from(data.buffer, data.byteOffset, 4).equals(magic)) {
    throw new InvalidPluginImageError(`${where} is not a WebAssembly module (no \\0asm magic)`);
  }
}

/** The layer `selectPluginLayer` picked and how to read it. */
export interface PluginLayer {
  format: PluginImageFormat;
  layer: Descriptor;
}

/**
 * Picks the layer that holds the module, in Istio's order: Docker manifest → last layer
 * (docker tar.gzip); else last layer OCI tar+gzip; else exactly two layers with one wasm
 * content layer. Throws {@link InvalidPluginImageError} naming what the image holds otherwise.
 */
export function selectPluginLayer(manifest: Manifest, mediaType?: string): PluginLayer {
  const type = manifest.mediaType ?? mediaType;
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  if (layers.length === 0) throw new InvalidPluginImageError('the image has no layers');
  const last = layers[layers.length - 1];
  if (type === MEDIA_TYPES.dockerManifest) {
    if (last.mediaType === MEDIA_TYPES.dockerLayerTarGzip) return { format: 'docker', layer: last };
  }
  if (last.mediaType === MEDIA_TYPES.ociLayerTarGzip) return { format: 'oci', layer: last };
  if (layers.length === 2) {
    const wasm = layers.find((l) => l.mediaType === MEDIA_TYPES.wasmContentLayer);
    if (wasm) return { format: 'wasm-layer', layer: wasm };
  }
  throw new InvalidPluginImageError(
    `the image holds no plugin: expected a last layer of type ${MEDIA_TYPES.ociLayerTarGzip} or ${MEDIA_TYPES.dockerLayerTarGzip}, ` +
      `or two layers with one ${MEDIA_TYPES.wasmContentLayer}; found ${layers.map((l) => l.mediaType).join(', ')}`,
  );
}

/**
 * The module inside a plugin layer: raw for the wasm layer format, else gunzip + untar and the
 * entry whose base name is `plugin.wasm` (refusing unsafe archives). Checks `\0asm`.
 */
export function wasmFromLayer(picked: PluginLayer, data: Uint8Array, maxBytes: number = IMAGE.limits.maxWasmBytes): Buffer {
  let wasm: Buffer;
  if (picked.format === 'wasm-layer') {
    if (data.byteLength > maxBytes) throw new OciError('HP_OCI_TOO_LARGE', `plugin module exceeds ${maxBytes} bytes`);
    wasm = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } else {
    const tar = gunzipBounded(data, maxBytes + (1 << 20), `layer ${picked.layer.digest}`);
    const entries = readTar(tar, maxBytes);
    const found = entries.find((e) => e.name === IMAGE.pluginFiles.wasm || e.name.endsWith(`/${IMAGE.pluginFiles.wasm}`));
    if (!found) throw new InvalidPluginImageError(`layer ${picked.layer.digest} has no ${IMAGE.pluginFiles.wasm} (entries: ${entries.map((e) => e.name).join(', ') || 'none'})`);
    wasm = found.data;
  }
  checkWasmMagic(wasm, `${IMAGE.pluginFiles.wasm} in layer ${picked.layer.digest}`);
  return wasm;
}

/** Parses manifest bytes, requiring the fields a plugin image needs. */
export function parseManifest(bytes: Uint8Array, where: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  } catch (err) {
    throw new InvalidPluginImageError(`${where}: manifest is not JSON`, { cause: err });
  }
  if (m?.schemaVersion !== 2 || !Array.isArray(m.layers)) {
    const hint = Array.isArray((m as unknown as { manifests?: unknown }).manifests) ? ' (it is an image index; name a platform manifest by digest)' : '';
    throw new InvalidPluginImageError(`${where}: not an image manifest with layers${hint}`);
  }
  return m;
}

/**
 * The plugin manifest named by an image index (OCI index / Docker manifest list): the entry
 * whose platform is wasm (`os` wasip1/wasi/wasm or `architecture` wasm), else the only entry.
 */
export function selectFromIndex(bytes: Uint8Array, where: string): Descriptor {
  let index: ImageIndex;
  try {
    index = JSON.parse(Buffer.from(bytes).toString('utf8')) as ImageIndex;
  } catch (err) {
    throw new InvalidPluginImageError(`${where}: image index is not JSON`, { cause: err });
  }
  const entries = Array.isArray(index.manifests) ? index.manifests : [];
  const wasm = entries.find((m) => ['wasip1', 'wasi', 'wasm'].includes(String(m.platform?.os)) || m.platform?.architecture === 'wasm');
  if (wasm) return wasm;
  if (entries.length === 1) return entries[0];
  const platforms = entries.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : m.digest)).join(', ');
  throw new InvalidPluginImageError(`${where} is an image index with ${entries.length} manifests (${platforms || 'none'}) and none for wasm; name one by digest`);
}

/** True when a fetched manifest is an index (by media type or shape). */
export function isIndexManifest(mediaType: string | undefined, bytes: Uint8Array): boolean {
  if (isIndexType(mediaType)) return true;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { manifests?: unknown; layers?: unknown };
    return Array.isArray(parsed.manifests) && !Array.isArray(parsed.layers);
  } catch {
    return false;
  }
}
