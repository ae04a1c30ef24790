import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadPluginSpec } from '../../cli/package/plugin-spec.js';
import { CLI, cli, tempDir } from './cli-helpers.js';

const tmp = tempDir('hp-init-');
after(() => tmp.cleanup());

test('init writes a complete project named after its folder, with nothing left to fill in', async () => {
  const r = await cli(['init', 'Geo Fence', '--yes'], tmp.dir);
  assert.equal(r.code, 0, r.stderr);
  const dir = join(tmp.dir, 'Geo Fence');
  for (const f of ['assembly/index.ts', 'assembly/tsconfig.json', 'spec.yaml', 'README.md', 'package.json', 'asconfig.json',
    '.gitignore', 'test/plugin.test.js']) {
    assert.ok(existsSync(join(dir, f)), f);
    assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /\{\{\w+\}\}/, `${f} has an unfilled placeholder`);
  }
  const spec = parse(readFileSync(join(dir, 'spec.yaml'), 'utf8'));
  assert.equal(spec.info.name, 'geo-fence');
  assert.equal(spec.info.title, 'Geo Fence');
  assert.deepEqual(spec.spec.configSchema.openAPIV3Schema.example, { message: 'hello from geo-fence' });
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'geo-fence');
  assert.equal(pkg.scripts.test, 'higress-plugin test');
  assert.match(readFileSync(join(dir, 'assembly/index.ts'), 'utf8'), /definePlugin<Config>\("geo-fence"/);
  const asconfig = JSON.parse(readFileSync(join(dir, 'asconfig.json'), 'utf8'));
  assert.equal(asconfig.targets.production.outFile, 'build/plugin.wasm');
  assert.equal(asconfig.targets.release, undefined, 'asc would apply a "release" target to every build in the folder');
  assert.equal(asconfig.entries, undefined);
  assert.match(r.stdout, /Next:\n\s+cd 'Geo Fence'\n/);
});

test('init --template and --name pick the starting point and the plugin name', async () => {
  for (const template of ['auth', 'http-call', 'body']) {
    const r = await cli(['init', `t-${template}`, '--template', template, '--name', `my-${template}`], tmp.dir);
    assert.equal(r.code, 0, r.stderr);
    const spec = parse(readFileSync(join(tmp.dir, `t-${template}`, 'spec.yaml'), 'utf8'));
    assert.equal(spec.info.name, `my-${template}`);
    assert.match(r.stdout, new RegExp(`template ${template}`));
  }
});

test("every template's spec.yaml passes the checks build applies, example included", async () => {
  for (const template of ['hello', 'auth', 'http-call', 'body']) {
    const dir = join(tmp.dir, `spec-${template}`);
    const r = await cli(['init', dir, '--template', template, '--yes'], tmp.dir);
    assert.equal(r.code, 0, r.stderr);
    const file = join(dir, 'spec.yaml');
    const loaded = loadPluginSpec(readFileSync(file, 'utf8'), file);
    assert.ok(loaded.configValidator, `${template} declares a config schema`);
    assert.equal(loaded.spec.info.name, `spec-${template}`);
  }
});

test('init refuses a non-empty folder, a bad name and an unknown template', async () => {
  mkdirSync(join(tmp.dir, 'busy'));
  writeFileSync(join(tmp.dir, 'busy', 'notes.txt'), 'mine');
  const busy = await cli(['init', 'busy', '--yes'], tmp.dir);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /already exists and is not empty.*\[HP_INIT_TARGET_NOT_EMPTY\]/);
  assert.equal(readFileSync(join(tmp.dir, 'busy', 'notes.txt'), 'utf8'), 'mine');
  const name = await cli(['init', 'x', '--name', 'My_Plugin'], tmp.dir);
  assert.equal(name.code, 1);
  assert.match(name.stderr, /not a valid plugin name.*\[HP_INIT_BAD_NAME\]/);
  const tpl = await cli(['init', 'y', '--template', 'grpc'], tmp.dir);
  assert.equal(tpl.code, 1);
  assert.match(tpl.stderr, /unknown template "grpc"; choose one of: hello, auth, http-call, body/);
  assert.ok(!existsSync(join(tmp.dir, 'x')) && !existsSync(join(tmp.dir, 'y')));
});

test('init without a terminal never prompts', async () => {
  const r = await cli(['init', 'quiet'], tmp.dir); // stdin is a pipe, not a TTY
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Plugin name \(/);
  assert.ok(existsSync(join(tmp.dir, 'quiet', 'assembly/index.ts')));
});

test('init on a terminal asks for the name and the template', { timeout: 20_000 }, async () => {
  // util-linux `script` gives the CLI a real pseudo-terminal.
  const child = spawn('script', ['-qfec', `"${process.execPath}" "${CLI}" init asked`, '/dev/null'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const answered = new Set<string>();
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (!answered.has('name') && out.includes('Plugin name (asked):')) { answered.add('name'); child.stdin.write('edge-guard\n'); }
    if (!answered.has('template') && out.includes('Template (1):')) { answered.add('template'); child.stdin.write('3\n'); }
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0, out);
  assert.match(out, /Created plugin "edge-guard" \(template http-call\)/);
  const spec = parse(readFileSync(join(tmp.dir, 'asked', 'spec.yaml'), 'utf8'));
  assert.equal(spec.info.name, 'edge-guard');
  assert.equal(spec.spec.phase, 'AUTHZ');
});

test('init --help lists the templates and examples', async () => {
  const r = await cli(['init', '--help'], tmp.dir);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Templates:\n\s+hello/);
  assert.match(r.stdout, /Examples:\n\s+\$ higress-plugin init my-plugin/);
});
