import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { createProgram } from '../../cli/index.js';

test('docs/cli.md documents every command and every option; init, run, test and manifest --help show examples', async () => {
  const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'cli.md'), 'utf8');
  const program = await createProgram();
  const missing: string[] = [];
  for (const cmd of program.commands) {
    const section = doc.split(/^## /m).find((s) => s.startsWith(`${cmd.name()}\n`));
    if (!section) {
      missing.push(`command ${cmd.name()}`);
      continue;
    }
    for (const opt of cmd.options) if (opt.long && !section.includes(opt.long)) missing.push(`${cmd.name()} ${opt.long}`);
  }
  assert.deepEqual(missing, [], 'regenerate the command sections of docs/cli.md from --help');
  for (const name of ['init', 'run', 'test', 'manifest']) {
    let help = '';
    const cmd = program.commands.find((c) => c.name() === name)!;
    cmd.configureOutput({ writeOut: (s) => { help += s; } });
    cmd.outputHelp();
    assert.match(help, /Examples:\n\s+\$ higress-plugin /, `${name} --help shows examples`);
  }
});
