import type { Command } from 'commander';
import { basename, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import {
  TEMPLATES, checkPluginName, isTemplateName, scaffoldProject, suggestPluginName, type TemplateName,
} from '../author/scaffold.js';
import { AuthorError } from '../author/errors.js';

interface InitOptions {
  name?: string;
  template?: string;
  yes?: boolean;
}

/** `higress-plugin init <dir>`: scaffolds a plugin project that builds and tests offline. */
export function register(program: Command): void {
  program
    .command('init')
    .description('create a plugin project (AssemblyScript source, spec.yaml, tests, README)')
    .argument('<dir>', 'folder to create (must not exist, or be empty)')
    .option('--name <name>', 'plugin name (default: derived from the folder name)')
    .option('--template <template>', `starting point: ${Object.keys(TEMPLATES).join(' | ')} (default: hello)`)
    .option('-y, --yes', 'use defaults for everything not given; never prompt')
    .addHelpText('after', `
Templates:
${Object.entries(TEMPLATES).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join('\n')}

On a terminal, init asks for what the flags don't give; elsewhere (scripts, CI) it never
prompts and uses the defaults.

Examples:
  $ higress-plugin init my-plugin
  $ higress-plugin init my-auth --template auth --yes
  $ higress-plugin init ./plugins/rewrite --name body-rewrite --template body`)
    .action(async (dir: string, opts: InitOptions) => {
      const interactive = !opts.yes && process.stdin.isTTY === true && process.stdout.isTTY === true;
      let name = opts.name;
      let template = opts.template;
      if (interactive && (name === undefined || template === undefined)) {
        ({ name, template } = await ask(dir, name, template));
      }
      name ??= suggestPluginName(basename(resolve(dir)));
      template ??= 'hello';
      if (!isTemplateName(template)) {
        throw new AuthorError('HP_UNKNOWN_TEMPLATE', `unknown template "${template}"; choose one of: ${Object.keys(TEMPLATES).join(', ')}`);
      }
      const files = scaffoldProject({ dir, name, template });
      const shown = relative(process.cwd(), resolve(dir)) || '.';
      console.log(`Created plugin "${name}" (template ${template}) in ${shown}:`);
      for (const f of files) console.log(`  ${f}`);
      console.log(`
Next:
  cd ${/[^\w@%+=:,./-]/.test(shown) ? `'${shown.replace(/'/g, `'\\''`)}'` : shown}
  higress-plugin build     # compile and package: dist/plugin.wasm + an OCI image layout
  higress-plugin test      # run test/*.test.js on the emulator
  higress-plugin run       # serve it in a local gateway; edits reload on save`);
    });
}

/** Asks for the name and template the flags left open (only on a terminal). */
async function ask(dir: string, name: string | undefined, template: string | undefined): Promise<{ name: string; template: TemplateName }> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    let chosenName = name;
    while (chosenName === undefined) {
      const suggestion = suggestPluginName(basename(resolve(dir)));
      const answer = (await rl.question(`Plugin name (${suggestion}): `)).trim() || suggestion;
      const bad = checkPluginName(answer);
      if (bad) console.log(bad);
      else chosenName = answer;
    }
    let chosenTemplate = template;
    if (chosenTemplate === undefined) {
      const names = Object.keys(TEMPLATES) as TemplateName[];
      console.log('Templates:');
      names.forEach((t, i) => console.log(`  ${i + 1}) ${t.padEnd(10)} ${TEMPLATES[t]}`));
      while (chosenTemplate === undefined) {
        const answer = (await rl.question('Template (1): ')).trim() || '1';
        const picked = /^\d+$/.test(answer) ? names[Number(answer) - 1] : answer;
        if (picked && isTemplateName(picked)) chosenTemplate = picked;
        else console.log(`choose 1-${names.length} or a name: ${names.join(', ')}`);
      }
    }
    return { name: chosenName, template: chosenTemplate as TemplateName };
  } finally {
    rl.close();
  }
}
