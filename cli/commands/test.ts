import type { Command } from 'commander';
import { loadPluginProject } from '../author/plugin-project.js';
import { runProjectTests } from '../author/test-runner.js';
import { AuthorError } from '../author/errors.js';

/** `higress-plugin test [dir]`: builds the plugin and runs its tests on the emulator. */
export function register(program: Command): void {
  program
    .command('test')
    .description("build the plugin and run the project's tests (Node's test runner + the emulator)")
    .argument('[dir]', 'plugin project folder', '.')
    .option('--name-pattern <regex>', 'run only the tests whose name matches')
    .option('--reporter <name>', 'Node test reporter (spec, tap, dot, junit)', 'spec')
    .option('--release', 'test an optimised build (build/plugin.wasm) instead of the debug build (build/plugin.debug.wasm)')
    .option('--no-build', 'test the module already built')
    .addHelpText('after', `
Test files are test/**/*.test.js (or .mjs) in the project. They import the emulator as
'higress-plugin/emulator' (resolved to this higress-plugin, no install needed) and find the
freshly built module in the HIGRESS_PLUGIN_WASM environment variable. The module is a debug
build (fast to compile, assertions on, named stack traces) unless --release is given.

Examples:
  $ higress-plugin test
  $ higress-plugin test ./my-plugin --name-pattern "adds the header"
  $ higress-plugin test --release
  $ higress-plugin test --reporter tap > results.tap`)
    .action(async (dir: string, opts: { namePattern?: string; reporter: string; build: boolean; release?: boolean }) => {
      const project = loadPluginProject(dir);
      const result = await runProjectTests(project, { namePattern: opts.namePattern, reporter: opts.reporter, noBuild: !opts.build, release: opts.release });
      if (result.exitCode !== 0) {
        throw new AuthorError('HP_TESTS_FAILED',
          `${result.fail ?? 'some'} test(s) failed in ${project.name} (${result.files.length} file(s))`);
      }
    });
}
