/** OCI content descriptors, manifests and indexes (image-spec `descriptor.md`, `manifest.md`, `image-index.md`). */
import { MEDIA_TYPES } from '../../spec/index.js';
import { sha256Digest } from './digest.js';

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Record<string, unknown>;
}

/** An image manifest (OCI or Docker v2 schema 2; they share this shape). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image index (OCI index or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** Media types sent in `Accept` when fetching a manifest, most wanted first. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList];

/** True for manifest and index media types (content fetched from `/manifests/`, not `/blobs/`). */
export function isManifestType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_ACCEPT.includes(mediaType);
}

/** True for an index / manifest list. */
export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}

/** Descriptor of `data` with `mediaType` (and annotations, when given). */
export function describe(mediaType: string, data: Uint8Array, annotations?: Record<string, string>): Descriptor {
  const d: Descriptor = { mediaType, digest: sha256Digest(data), size: data.byteLength };
  if (annotations && Object.keys(annotations).length) d.annotations = annotations;
  return d;
}
