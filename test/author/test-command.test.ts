import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadPluginProject } from '../../cli/author/plugin-project.js';
import { runProjectTests } from '../../cli/author/test-runner.js';
import { cli, tempDir } from './cli-helpers.js';

const tmp = tempDir('hp-testcmd-');
after(() => tmp.cleanup());

// In-process through the same function the command calls, so the compiler is loaded once for the
// four templates; the command itself (exit codes, messages) is exercised below and by the tutorial.
for (const template of ['hello', 'auth', 'http-call', 'body']) {
  test(`a fresh ${template} project builds and passes its own tests offline`, { timeout: 120_000 }, async () => {
    const init = await cli(['init', template, '--template', template, '--yes'], tmp.dir);
    assert.equal(init.code, 0, init.stderr);
    let report = '';
    const out = new Writable({ write(chunk, _enc, done) { report += chunk.toString(); done(); } });
    // No node_modules in the project: the SDK and the emulator come from this package.
    const release = template === 'auth'; // one template also through the optimised build
    const r = await runProjectTests(loadPluginProject(join(tmp.dir, template)), { out, release });
    assert.equal(r.exitCode, 0, report);
    assert.ok(r.pass && r.pass > 0 && r.fail === 0, report);
    assert.match(r.wasmFile, release ? /build\/plugin\.wasm$/ : /build\/plugin\.debug\.wasm$/);
  });
}

test('test fails with the failing test named when the plugin misbehaves', { timeout: 120_000 }, async () => {
  const dir = join(tmp.dir, 'hello');
  const src = join(dir, 'assembly/index.ts');
  const good = readFileSync(src, 'utf8');
  writeFileSync(src, good.replace('ctx.addResponseHeader("x-hello", config.message);', 'ctx.addResponseHeader("x-hello", "oops");'));
  try {
    const r = await cli(['test', dir, '--reporter', 'spec'], tmp.dir, { NO_COLOR: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✖ adds the x-hello header to the request and the response/);
    assert.match(r.stderr, /1 test\(s\) failed in hello \(1 file\(s\)\) \[HP_TESTS_FAILED\]/);
  } finally {
    writeFileSync(src, good);
  }
});

test('test reports a compile error with the file and line', { timeout: 120_000 }, async () => {
  const dir = join(tmp.dir, 'body');
  const src = join(dir, 'assembly/index.ts');
  const good = readFileSync(src, 'utf8');
  writeFileSync(src, `${good}\nlet broken: i32 = ;\n`);
  try {
    const r = await cli(['test'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /assembly\/index\.ts\(\d+,\d+\)/);
    assert.match(r.stderr, /\[HP_COMPILE_FAILED\]/);
  } finally {
    writeFileSync(src, good);
  }
});

test('test says so when a project has no tests, or is not a plugin project', async () => {
  rmSync(join(tmp.dir, 'auth', 'test'), { recursive: true });
  const none = await cli(['test', 'auth'], tmp.dir);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no tests in .*auth\/test.*\[HP_NO_TESTS\]/);
  const notProject = await cli(['test'], tmp.dir);
  assert.equal(notProject.code, 1);
  assert.match(notProject.stderr, /is not a plugin project.*higress-plugin init.*\[HP_NOT_A_PLUGIN_PROJECT\]/);
});
