/**
 * OCI image layout on disk (image-spec `image-layout.md`): `oci-layout`, `index.json` with
 * tags as `org.opencontainers.image.ref.name` annotations, and `blobs/sha256/<hex>`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANNOTATIONS, IMAGE, MEDIA_TYPES } from '../../spec/index.js';
import { digestHex, verifyContent } from './digest.js';
import { ImageLayoutError } from './errors.js';
import type { Descriptor, ImageIndex } from './descriptor.js';

/** An image layout folder: a content store addressed by digest, plus a tagged index. */
export class ImageLayout {
  constructor(readonly dir: string) {}

  /** True when `dir` holds an `oci-layout` file. */
  static isLayout(dir: string): boolean {
    return existsSync(join(dir, IMAGE.ociLayout.file));
  }

  /** Creates the folder, `oci-layout` and an empty `index.json` if missing. */
  async init(): Promise<void> {
    await mkdir(join(this.dir, IMAGE.ociLayout.blobs, 'sha256'), { recursive: true });
    const marker = join(this.dir, IMAGE.ociLayout.file);
    if (!existsSync(marker)) await atomicWrite(marker, JSON.stringify(IMAGE.ociLayout.content));
    if (!existsSync(join(this.dir, IMAGE.ociLayout.index))) await this.writeIndex({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] });
  }

  /** Path of the blob `digest`. */
  blobPath(digest: string): string {
    return join(this.dir, IMAGE.ociLayout.blobs, 'sha256', digestHex(digest));
  }

  /** Writes `data` as the blob of `desc` (verified first). */
  async push(desc: Descriptor, data: Uint8Array): Promise<void> {
    verifyContent(data, desc.digest, desc.size, `blob for ${this.dir}`);
    const path = this.blobPath(desc.digest);
    if (!existsSync(path)) await atomicWrite(path, data);
  }

  /** True when the blob of `desc` is present. */
  exists(desc: Descriptor): boolean {
    return existsSync(this.blobPath(desc.digest));
  }

  /** Reads and verifies the blob of `desc`. */
  async fetch(desc: Descriptor): Promise<Buffer> {
    const path = this.blobPath(desc.digest);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      throw new ImageLayoutError(`image layout ${this.dir} misses blob ${desc.digest}`, { cause: err });
    }
    verifyContent(data, desc.digest, desc.size, `blob ${path}`);
    return data;
  }

  /** The parsed `index.json`. */
  async readIndex(): Promise<ImageIndex> {
    const path = join(this.dir, IMAGE.ociLayout.index);
    try {
      const index = JSON.parse(await readFile(path, 'utf8')) as ImageIndex;
      if (!Array.isArray(index.manifests)) throw new Error('no "manifests" array');
      return index;
    } catch (err) {
      throw new ImageLayoutError(`${path} is not an OCI image index: ${(err as Error).message}`, { cause: err });
    }
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await atomicWrite(join(this.dir, IMAGE.ociLayout.index), `${JSON.stringify(index, null, 2)}\n`);
  }

  /** Records `desc` in `index.json` under `tag` (replacing an entry with that tag). */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    const index = await this.readIndex();
    index.manifests = index.manifests.filter((m) => m.annotations?.[ANNOTATIONS.refName] !== tag);
    index.manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [ANNOTATIONS.refName]: tag } });
    await this.writeIndex(index);
  }

  /**
   * The manifest descriptor for `tag`; without a tag, the only manifest of the index (an error
   * when there are several and none was named).
   */
  async resolve(tag?: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (tag) {
      const found = index.manifests.find((m) => m.annotations?.[ANNOTATIONS.refName] === tag || m.digest === tag);
      if (!found) throw new ImageLayoutError(`image layout ${this.dir} has no manifest tagged "${tag}"`);
      return found;
    }
    if (index.manifests.length === 1) return index.manifests[0];
    if (index.manifests.length === 0) throw new ImageLayoutError(`image layout ${this.dir} holds no manifest`);
    const tags = index.manifests.map((m) => m.annotations?.[ANNOTATIONS.refName] ?? m.digest).join(', ');
    throw new ImageLayoutError(`image layout ${this.dir} holds several manifests (${tags}); name one`);
  }
}

/** Writes a file through a temporary sibling and a rename, so readers never see half a file. */
export async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
