/**
 * Reads a plugin image's `spec.yaml` layer straight from a registry (without pulling the wasm),
 * so `manifest` and `run` can validate configs against the schema of an image they did not build.
 */
import { MEDIA_TYPES, ANNOTATIONS, IMAGE } from '../../spec/index.js';
import { Repository, type RepositoryOptions } from '../../runtime/oci/registry-client.js';
import { isIndexType, type ImageIndex, type Manifest } from '../../runtime/oci/descriptor.js';
import { parseSpecText, type PluginSpec } from './plugin-project.js';

/** spec.yaml of the image at `ref` (`[oci://]host/repo[:tag|@digest]`); undefined when the image has none. */
export async function fetchImageSpec(ref: string, options: RepositoryOptions = {}): Promise<PluginSpec | undefined> {
  const repo = new Repository(ref, options);
  let { bytes, descriptor } = await repo.fetchManifest();
  if (isIndexType(descriptor.mediaType ?? (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType)) {
    const index = JSON.parse(bytes.toString('utf8')) as ImageIndex;
    if (!index.manifests?.length) return undefined;
    ({ bytes } = await repo.fetchManifest(index.manifests[0].digest));
  }
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  const layer = (manifest.layers ?? []).find((l) =>
    l.mediaType === MEDIA_TYPES.spec || l.annotations?.[ANNOTATIONS.title] === IMAGE.pluginFiles.spec);
  if (!layer) return undefined;
  const text = (await repo.fetch(layer, 1 << 20)).toString('utf8');
  return parseSpecText(text, `${ref} (spec.yaml layer)`);
}
