/** `pull`: fetch a plugin image, verify every digest, write plugin.wasm and the image's files. */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ANNOTATIONS, IMAGE } from '../../spec/index.js';
import { pullImage, type PulledImage } from '../../runtime/oci/image-copy.js';
import { ImageLayout } from '../../runtime/oci/image-layout.js';
import { selectPluginLayer, wasmFromLayer, type PluginImageFormat } from '../../runtime/oci/plugin-image.js';
import { manifestReference } from '../../runtime/oci/reference.js';
import type { Repository } from '../../runtime/oci/registry-client.js';
import { PackageError } from './errors.js';

/** What a pull wrote. */
export interface PullResult {
  digest: string;
  format: PluginImageFormat;
  outDir: string;
  /** Files written, relative to outDir. */
  files: string[];
  image: PulledImage;
}

/** A layer title we can write as a file name: a plain base name, nothing that walks out of outDir. */
function safeTitle(title: string | undefined): string | undefined {
  if (!title) return undefined;
  if (title !== basename(title) || title === '.' || title === '..' || title.includes('\\') || title.includes('\0')) {
    throw new PackageError('HP_PACKAGE_UNSAFE_TITLE', `layer title "${title}" is not a plain file name; refusing to write it`);
  }
  return title;
}

/**
 * Pulls `repo`'s reference into `outDir`: `plugin.wasm` (extracted by the Istio/Higress rules)
 * plus every titled layer under its title. With `layout`, also writes an OCI image layout
 * into `outDir/oci`.
 */
export async function pullPlugin(repo: Repository, outDir: string, options: { layout?: boolean } = {}): Promise<PullResult> {
  const reference = manifestReference(repo.reference);
  const image = await pullImage(repo, reference);
  const picked = selectPluginLayer(image.manifest, image.descriptor.mediaType);
  const wasm = wasmFromLayer(picked, image.blobs.get(picked.layer.digest)!);
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const layer of image.manifest.layers) {
    const title = safeTitle(layer.annotations?.[ANNOTATIONS.title]);
    if (!title || title === IMAGE.pluginFiles.wasm) continue;
    await writeFile(join(dir, title), image.blobs.get(layer.digest)!);
    files.push(title);
  }
  await writeFile(join(dir, IMAGE.pluginFiles.wasm), wasm);
  files.push(IMAGE.pluginFiles.wasm);
  if (options.layout) {
    const layout = new ImageLayout(join(dir, 'oci'));
    await layout.init();
    for (const d of [image.manifest.config, ...image.manifest.layers]) await layout.push(d, image.blobs.get(d.digest)!);
    await layout.push(image.descriptor, image.manifestBytes);
    await layout.tag(image.descriptor, repo.reference.tag ?? 'latest');
    files.push('oci/');
  }
  return { digest: image.index?.digest ?? image.descriptor.digest, format: picked.format, outDir: dir, files, image };
}
