/**
 * Image references: `[oci://]host[:port]/path/name[:tag][@sha256:<hex>]`, as docker and oras
 * parse them (distribution `reference` grammar), with Docker Hub's implicit host.
 */
import { InvalidReferenceError } from './errors.js';
import { isDigest } from './digest.js';

/** A parsed image reference. */
export interface Reference {
  /** Registry host with optional port, e.g. `127.0.0.1:5000`, `registry-1.docker.io`. */
  registry: string;
  /** Repository path, e.g. `plugins/hello-world`. */
  repository: string;
  /** Tag, when the reference named one. */
  tag?: string;
  /** Manifest digest, when the reference pinned one (`@sha256:…`). */
  digest?: string;
}

const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$/;

/** Parses a reference; a leading `oci://` is accepted. Throws {@link InvalidReferenceError}. */
export function parseReference(input: string): Reference {
  let rest = input.trim();
  if (rest.startsWith('oci://')) rest = rest.slice(6);
  if (!rest) throw new InvalidReferenceError(input, 'it is empty');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new InvalidReferenceError(input, `"${digest}" is not a sha256 digest`);
  }
  let registry = 'registry-1.docker.io';
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    rest = rest.slice(slash + 1);
  } else if (!rest.includes('/')) {
    rest = `library/${rest}`;
  }
  if (registry === 'docker.io' || registry === 'index.docker.io') registry = 'registry-1.docker.io';
  if (!HOST_RE.test(registry)) throw new InvalidReferenceError(input, `"${registry}" is not a registry host`);
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0 && !rest.slice(colon).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new InvalidReferenceError(input, `"${tag}" is not a valid tag`);
  }
  if (!REPO_RE.test(rest)) throw new InvalidReferenceError(input, `"${rest}" is not a valid repository name (lower-case letters, digits, separators . _ - /)`);
  return { registry, repository: rest, tag, digest };
}

/** The manifest reference to request: the digest when pinned, else the tag, else `latest`. */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Formats a reference back to `host/repo[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** True for hosts where plain HTTP is the default (loopback), as oras does for localhost. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
