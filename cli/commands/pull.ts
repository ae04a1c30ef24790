import type { Command } from 'commander';
import { basename } from 'node:path';
import { ANNOTATIONS } from '../../spec/index.js';
import { addRegistryOptions, formatBytes, progress, progressDone, repositoryOptions, type RegistryFlags } from '../package/registry-options.js';

/** `higress-plugin pull <ref> [-o dir]`. */
export function register(program: Command): void {
  addRegistryOptions(
    program
      .command('pull')
      .description('pull a plugin image, verify every digest, and write plugin.wasm and the image files')
      .argument('<ref>', 'registry reference host[:port]/repo[:tag|@sha256:…] (oci:// prefix allowed)')
      .option('-o, --output <dir>', 'output folder (default: ./<repository name>)')
      .option('--layout', 'also write an OCI image layout into <output>/oci')
      .option('--json', 'print the result as JSON'),
  ).action(async (refArg: string, opts: RegistryFlags & { output?: string; layout?: boolean; json?: boolean }) => {
    // Loaded on use: the CLI imports every command module at start-up.
    const [{ parseReference }, { Repository }, { pullPlugin }] = await Promise.all([
      import('../../runtime/oci/reference.js'), import('../../runtime/oci/registry-client.js'), import('../package/pull-plugin.js'),
    ]);
    const ref = parseReference(refArg);
    const show = progress(opts.json);
    const repo = new Repository(ref, {
      ...(await repositoryOptions(opts)),
      onProgress: (e) => show(`pull: ${e.descriptor.annotations?.[ANNOTATIONS.title] ?? e.descriptor.digest.slice(0, 19)} ${formatBytes(e.bytes)}`),
    });
    const started = performance.now();
    const r = await pullPlugin(repo, opts.output ?? basename(ref.repository), { layout: opts.layout });
    progressDone(opts.json);
    const ms = Math.round(performance.now() - started);
    if (opts.json) {
      console.log(JSON.stringify({ reference: repo.toString(), digest: r.digest, format: r.format, outDir: r.outDir, files: r.files, ms }, null, 2));
      return;
    }
    console.log(`pulled ${repo} (${r.format} layout, ${ms} ms) into ${r.outDir}: ${r.files.join(', ')}`);
    console.log(r.digest);
  });
}
