/**
 * The `higress-plugin` command. Each subcommand lives in `cli/commands/<name>.ts` and exports
 * `register(program)`; this file loads them all, so adding a command touches only its own file.
 */
import { Command } from 'commander';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../spec/index.js';

export interface CommandModule {
  register(program: Command): void;
}

/**
 * Builds the commander program. With `only`, just that command's module is loaded (when it
 * exists): command modules import heavy code (the gateway, asc), so `push` need not pay for `run`.
 */
export async function createProgram(only?: string): Promise<Command> {
  const version = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version as string;
  const program = new Command('higress-plugin')
    .description('Build, package, push and run Higress (proxy-wasm) plugins written in AssemblyScript.')
    .version(version)
    .showHelpAfterError()
    .showSuggestionAfterError();
  const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'commands');
  let files = readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  if (only && files.includes(`${only}.js`)) files = [`${only}.js`];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as CommandModule;
    mod.register(program);
  }
  return program;
}

/** Entry point used by `bin/higress-plugin.js`. Exits non-zero with a one-line message on error. */
export async function main(argv: string[]): Promise<void> {
  const program = await createProgram(argv[2]);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`higress-plugin: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    if (process.env.HIGRESS_PLUGIN_DEBUG) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  }
}
