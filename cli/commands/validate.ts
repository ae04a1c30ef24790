import type { Command } from 'commander';
import { addRegistryOptions, repositoryOptions, type RegistryFlags } from '../package/registry-options.js';

/** `higress-plugin validate <file> [--spec file|dir|ref] [--json]`: exits 1 when the config is invalid. */
export function register(program: Command): void {
  addRegistryOptions(
    program
      .command('validate')
      .description("validate a plugin config, or WasmPlugin manifests (defaultConfig and every matchRules config), against the plugin's config schema")
      .argument('<file>', 'config (JSON/YAML) or WasmPlugin YAML (several documents allowed)')
      .option('--spec <spec>', "spec.yaml, plugin folder, or image reference (default: the WasmPlugin's oci:// url, else ./spec.yaml)")
      .option('--json', 'print the report as JSON'),
  ).action(async (file: string, opts: RegistryFlags & { spec?: string; json?: boolean }) => {
    const { validateFile } = await import('../package/validate-config.js');
    const report = await validateFile(file, { spec: opts.spec, registry: await repositoryOptions(opts) });
    if (opts.json) console.log(JSON.stringify(report, null, 2));
    else {
      for (const d of report.documents) {
        const what = d.kind === 'WasmPlugin' ? `WasmPlugin ${d.name ?? ''}`.trim() : 'config';
        const where = report.documents.length > 1 ? `${file} (document ${d.index + 1}, ${what})` : `${file} (${what})`;
        if (!d.issues.length) console.log(`${where}: valid`);
        else {
          console.log(`${where}: ${d.issues.length} problem${d.issues.length > 1 ? 's' : ''}`);
          for (const i of d.issues) console.log(`  ${i.path}: ${i.message} [${i.rule}]`);
        }
      }
      console.log(`schema: ${report.specSource}`);
    }
    if (!report.valid) process.exitCode = 1;
  });
}
