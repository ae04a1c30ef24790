import type { Command } from 'commander';
import { relative } from 'node:path';
import { formatBytes, progress, progressDone } from '../package/registry-options.js';

/** `higress-plugin build [dir] [--debug] [-o dist] [--json]`. */
export function register(program: Command): void {
  program
    .command('build')
    .description('compile the plugin, check it, and package plugin.wasm, plugin.tar.gz and an OCI image layout')
    .argument('[dir]', 'plugin project folder', '.')
    .option('--debug', 'debug build: names section and source map, no optimisation')
    .option('-o, --output <dir>', 'output folder (default: <dir>/dist)')
    .option('-t, --tag <tag>', 'tag recorded in the image layout (default: spec.yaml info.version)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { debug?: boolean; output?: string; tag?: string; json?: boolean }) => {
      // Loaded on use: the CLI imports every command module at start-up.
      const { buildPlugin } = await import('../package/build-plugin.js');
      const show = progress(opts.json);
      const r = await buildPlugin({ dir, outDir: opts.output, debug: opts.debug, tag: opts.tag, onStep: (s) => show(`build: ${s}…`) });
      progressDone(opts.json);
      if (opts.json) {
        console.log(JSON.stringify({
          outDir: r.outDir, wasm: r.wasmPath, archive: r.archivePath, tag: r.tag, digest: r.manifest.digest,
          layers: r.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, title: l.annotations?.['org.opencontainers.image.title'] })),
          abiVersion: r.wasm.abiVersion, wasmSize: r.wasm.size, ms: Math.round(r.ms),
        }, null, 2));
        return;
      }
      const rel = (p: string) => relative(process.cwd(), p) || '.';
      console.log(`built ${r.spec.info.name} ${r.spec.info.version} (ABI ${r.wasm.abiVersion}) in ${Math.round(r.ms)} ms`);
      console.log(`  ${rel(r.wasmPath)}  ${formatBytes(r.wasm.size)}`);
      console.log(`  ${rel(r.archivePath)}`);
      console.log(`  OCI layout ${rel(r.layoutDir)}  tag ${r.tag}  ${r.manifest.digest}`);
    });
}
