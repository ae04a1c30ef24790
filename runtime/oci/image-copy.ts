/**
 * Copies a plugin image between an image layout (or built image in memory) and a registry:
 * blobs first (skipping those the registry has, a few in parallel), the manifest last so a tag
 * never points at missing content.
 */
import type { Descriptor, Manifest } from './descriptor.js';
import { isIndexManifest, parseManifest, selectFromIndex } from './plugin-image.js';
import type { Repository } from './registry-client.js';
import { InvalidPluginImageError } from './errors.js';

/** Anything that serves content by descriptor (an {@link ImageLayout}, a built image). */
export interface ContentSource {
  fetch(desc: Descriptor): Promise<Uint8Array>;
}

/** What a push did. */
export interface PushResult {
  /** Manifest digest. */
  digest: string;
  /** Where it was pushed (`host/repo:tag` or `host/repo@digest`). */
  reference: string;
  uploaded: Descriptor[];
  skipped: Descriptor[];
  bytesUploaded: number;
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

/**
 * Pushes the image `manifestDesc` from `source` to `repo` under `tag` (left out: by digest
 * only). Blobs the registry already has are not uploaded again.
 */
export async function pushImage(source: ContentSource, manifestDesc: Descriptor, repo: Repository, tag?: string): Promise<PushResult> {
  const manifestBytes = await source.fetch(manifestDesc);
  const manifest = parseManifest(manifestBytes, `manifest ${manifestDesc.digest}`);
  const blobs = dedupe([manifest.config, ...manifest.layers]);
  const uploaded: Descriptor[] = [];
  const skipped: Descriptor[] = [];
  let bytesUploaded = 0;
  await inParallel(blobs, 4, async (desc) => {
    if (await repo.exists(desc)) {
      skipped.push(desc);
      return;
    }
    await repo.push(desc, await source.fetch(desc));
    uploaded.push(desc);
    bytesUploaded += desc.size;
  });
  await repo.pushManifest(tag ?? manifestDesc.digest, manifestDesc, manifestBytes);
  const reference = `${repo.name}${tag ? `:${tag}` : `@${manifestDesc.digest}`}`;
  return { digest: manifestDesc.digest, reference, uploaded, skipped, bytesUploaded };
}

function dedupe(descs: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descs.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}

/** A pulled image: manifest descriptor and bytes, the parsed manifest and every blob, all verified. */
export interface PulledImage {
  /** The plugin manifest (inside the index, when the reference named an index). */
  descriptor: Descriptor;
  manifestBytes: Buffer;
  manifest: Manifest;
  blobs: Map<string, Buffer>;
  /** The index the reference named, when it named one. */
  index?: Descriptor;
}

/**
 * Fetches the plugin manifest `reference` names; an image index is followed to its wasm (or
 * only) manifest. Every manifest is digest-checked by the client.
 */
export async function fetchPluginManifest(repo: Repository, reference: string): Promise<{ descriptor: Descriptor; bytes: Buffer; manifest: Manifest; index?: Descriptor }> {
  const top = await repo.fetchManifest(reference);
  if (!isIndexManifest(top.descriptor.mediaType, top.bytes)) {
    return { descriptor: top.descriptor, bytes: top.bytes, manifest: parseManifest(top.bytes, `${repo.name}:${reference}`) };
  }
  const picked = selectFromIndex(top.bytes, `${repo.name}:${reference}`);
  const child = await repo.fetchManifest(picked.digest);
  return { descriptor: child.descriptor, bytes: child.bytes, manifest: parseManifest(child.bytes, `${repo.name}@${picked.digest}`), index: top.descriptor };
}

/**
 * Fetches the plugin manifest `reference` (tag or digest; an index is followed) and every blob
 * it names, verifying each digest. `maxBlobBytes` bounds each blob (default 256 MiB + 1 MiB).
 */
export async function pullImage(repo: Repository, reference: string, maxBlobBytes = (256 << 20) + (1 << 20)): Promise<PulledImage> {
  const { descriptor, bytes, manifest, index } = await fetchPluginManifest(repo, reference);
  const blobs = new Map<string, Buffer>();
  await inParallel(dedupe([manifest.config, ...manifest.layers]), 4, async (desc) => {
    blobs.set(desc.digest, await repo.fetch(desc, maxBlobBytes));
  });
  return { descriptor, manifestBytes: bytes, manifest, blobs, index };
}

/** A {@link ContentSource} over blobs in memory (a built or pulled image). */
export function memorySource(manifestDesc: Descriptor, manifestBytes: Buffer, blobs: Map<string, Buffer>): ContentSource {
  return {
    async fetch(desc) {
      if (desc.digest === manifestDesc.digest) return manifestBytes;
      const b = blobs.get(desc.digest);
      if (!b) throw new InvalidPluginImageError(`content ${desc.digest} is missing`);
      return b;
    },
  };
}
