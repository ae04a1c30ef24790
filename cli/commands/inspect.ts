import type { Command } from 'commander';
import type { Inspection } from '../package/inspect-plugin.js';
import { addRegistryOptions, formatBytes, repositoryOptions, type RegistryFlags } from '../package/registry-options.js';

function print(i: Inspection): void {
  const rows: string[] = [];
  rows.push(`${i.kind === 'module' ? 'Module' : 'Image'}: ${i.source}`);
  if (i.digest) {
    rows.push(`Digest:     ${i.digest}`);
    rows.push(`Media type: ${i.mediaType}   (${i.format} plugin layout)`);
    if (i.created) rows.push(`Created:    ${i.created}`);
    rows.push(`Size:       ${formatBytes(i.totalSize ?? 0)} in ${i.layers?.length ?? 0} layers`);
    rows.push('Layers:');
    for (const l of i.layers ?? []) rows.push(`  ${(l.title ?? '-').padEnd(16)} ${formatBytes(l.size).padStart(10)}  ${l.mediaType}  ${l.digest}`);
  }
  if (i.plugin) {
    const p = i.plugin;
    rows.push(`Plugin:     ${p.name ?? '?'} ${p.version ?? ''} — ${p.title ?? ''}${p.category ? ` [${p.category}]` : ''}`);
    if (p.description) rows.push(`            ${p.description}`);
    rows.push(`            phase ${p.phase ?? 'UNSPECIFIED_PHASE'}, priority ${p.priority ?? 0}, config schema ${p.hasConfigSchema ? 'yes' : 'no'}`);
  }
  if (i.module) {
    const m = i.module;
    rows.push(`Module:     ${formatBytes(m.size)}  ${m.sha256}  ABI ${m.abiVersion ?? 'none (not a proxy-wasm plugin)'}`);
    rows.push(`Imports:    ${m.imports.map((x) => `${x.module}.${x.name}`).join(', ') || '-'}`);
    if (m.unknownImports.length) rows.push(`  unknown to proxy-wasm hosts: ${m.unknownImports.join(', ')}`);
    rows.push(`Exports:    ${m.exports.map((x) => x.name).join(', ') || '-'}`);
    const prod = Object.entries(m.producers).map(([field, list]) => `${field}: ${list.map(([n, v]) => `${n} ${v}`).join(', ')}`);
    rows.push(`Producers:  ${prod.join('; ') || '-'}`);
  }
  console.log(rows.join('\n'));
}

/** `higress-plugin inspect <ref|dir|file.wasm> [--json]`. */
export function register(program: Command): void {
  addRegistryOptions(
    program
      .command('inspect')
      .description('show an image (registry reference or layout folder) or a .wasm module: layers, digest, plugin info, ABI, imports/exports, producers')
      .argument('<target>', 'registry reference, plugin project / layout folder, or .wasm file')
      .option('--json', 'print as JSON'),
  ).action(async (target: string, opts: RegistryFlags & { json?: boolean }) => {
    const { inspectTarget } = await import('../package/inspect-plugin.js');
    const result = await inspectTarget(target, await repositoryOptions(opts));
    if (opts.json) {
      const { specText: _omit, ...rest } = result;
      console.log(JSON.stringify(rest, null, 2));
    } else print(result);
  });
}
