import type { Command } from 'commander';
import { ANNOTATIONS } from '../../spec/index.js';
import { addRegistryOptions, formatBytes, progress, progressDone, repositoryOptions, type RegistryFlags } from '../package/registry-options.js';

/** `higress-plugin push [dir] <ref>`: pushes the built image layout to a registry and prints the digest. */
export function register(program: Command): void {
  addRegistryOptions(
    program
      .command('push')
      .description('push the built plugin image (OCI layout of [dir], default ".") to a registry; prints the manifest digest')
      .argument('<dir-or-ref>', 'plugin project or layout folder, or the reference when [ref] is left out')
      .argument('[ref]', 'registry reference host[:port]/repo[:tag] (tag default: the layout\'s tag)')
      .option('--json', 'print the result as JSON'),
  ).action(async (first: string, second: string | undefined, opts: RegistryFlags & { json?: boolean }) => {
    // Loaded on use: the CLI imports every command module at start-up.
    const [{ pushImage }, { parseReference }, { Repository }, { findLayout }, { OciError }] = await Promise.all([
      import('../../runtime/oci/image-copy.js'), import('../../runtime/oci/reference.js'), import('../../runtime/oci/registry-client.js'), import('../package/image-source.js'),
      import('../../runtime/oci/errors.js'),
    ]);
    const [dir, refArg] = second === undefined ? ['.', first] : [first, second];
    const layout = findLayout(dir);
    const ref = parseReference(refArg);
    const index = await layout.readIndex();
    // A layout with several images needs the tag to pick one; a single image is pushed under any tag.
    const desc = index.manifests.length > 1 && ref.tag ? await layout.resolve(ref.tag) : await layout.resolve();
    if (ref.digest && ref.digest !== desc.digest) {
      throw new OciError('HP_OCI_DIGEST_MISMATCH', `${refArg} names ${ref.digest}, but the image in ${layout.dir} is ${desc.digest}`);
    }
    // host/repo@digest pushes by digest only; otherwise the tag given, else the layout's own tag.
    const tag = ref.digest && !ref.tag ? undefined : ref.tag ?? desc.annotations?.[ANNOTATIONS.refName] ?? 'latest';
    const show = progress(opts.json);
    const repo = new Repository(
      { ...ref, tag },
      { ...(await repositoryOptions(opts)), onProgress: (e) => show(`push: ${e.kind} ${e.descriptor.annotations?.[ANNOTATIONS.title] ?? e.descriptor.digest.slice(0, 19)} ${formatBytes(e.bytes)}`) },
    );
    const started = performance.now();
    const r = await pushImage(layout, desc, repo, tag);
    progressDone(opts.json);
    const ms = Math.round(performance.now() - started);
    if (opts.json) {
      console.log(JSON.stringify({ reference: r.reference, digest: r.digest, uploaded: r.uploaded.length, skipped: r.skipped.length, bytesUploaded: r.bytesUploaded, ms }, null, 2));
      return;
    }
    console.log(`pushed ${r.reference} (${r.uploaded.length} blobs uploaded, ${r.skipped.length} already there, ${formatBytes(r.bytesUploaded)}, ${ms} ms)`);
    console.log(r.digest);
  });
}
