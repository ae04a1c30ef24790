import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import { cli, MINI_DIR, miniProject, tempDir } from './helpers.js';

let reg: TestRegistry;
let project: string;
let ref: string;

before(async () => {
  project = miniProject();
  const [r, built] = await Promise.all([startRegistry(), cli(['build', project])]);
  reg = r;
  assert.equal(built.code, 0, built.stderr);
  ref = `${reg.host}/plugins/mini:0.1.0`;
  const pushed = await cli(['push', project, ref]);
  assert.equal(pushed.code, 0, pushed.stderr);
});
after(async () => {
  await reg?.stop();
});

test('inspect of a registry image shows layers, plugin info, ABI, imports and producers', async () => {
  const r = await cli(['inspect', ref, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const i = JSON.parse(r.stdout);
  assert.equal(i.kind, 'registry');
  assert.match(i.digest, /^sha256:/);
  assert.equal(i.format, 'oci');
  assert.deepEqual(i.layers.map((l: { title: string }) => l.title), ['README_EN.md', 'README.md', 'spec.yaml', 'plugin.tar.gz']);
  assert.equal(i.plugin.name, 'mini');
  assert.equal(i.plugin.version, '0.1.0');
  assert.equal(i.module.abiVersion, '0.2.1');
  assert.deepEqual(i.module.imports, [{ module: 'env', name: 'proxy_log', kind: 'function' }]);
  assert.ok(i.module.producers['processed-by'].some(([n]: [string]) => n === 'higress-plugin'));
});

test('inspect reads a layout folder and a bare .wasm, in text form', async () => {
  const dir = await cli(['inspect', project]);
  assert.equal(dir.code, 0, dir.stderr);
  assert.match(dir.stdout, /Plugin:\s+mini 0\.1\.0/);
  assert.match(dir.stdout, /plugin\.tar\.gz/);
  const wasm = await cli(['inspect', join(project, 'dist', 'plugin.wasm')]);
  assert.equal(wasm.code, 0, wasm.stderr);
  assert.match(wasm.stdout, /ABI 0\.2\.1/);
  assert.match(wasm.stdout, /Imports:\s+env\.proxy_log/);
});

test('a valid plugin config passes, an invalid one lists JSON path and rule', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'ok.json'), JSON.stringify({ greeting: 'hi', limit: 2 }));
  writeFileSync(join(dir, 'bad.yaml'), 'limit: 0\nextra: true\n');
  const ok = await cli(['validate', join(dir, 'ok.json'), '--spec', join(MINI_DIR, 'spec.yaml')]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /valid/);
  const bad = await cli(['validate', join(dir, 'bad.yaml'), '--spec', MINI_DIR]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /\$\.greeting: must have required property 'greeting' \[required\]/);
  assert.match(bad.stdout, /\$\.limit: must be >= 1 \[minimum\]/);
});

test('a WasmPlugin manifest is checked in defaultConfig and every matchRules config, with the schema from its oci:// image', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'plugin.yaml'), `apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata:
  name: mini
  namespace: higress-system
spec:
  url: oci://${ref}
  defaultConfig:
    greeting: hello
  matchRules:
    - ingress: [default/foo]
      config:
        greeting: foo
    - domain: ["*.example.com"]
      config:
        greeting: 42
    - service: [bar.static]
      config:
        limit: 5
`);
  const r = await cli(['validate', join(dir, 'plugin.yaml'), '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.specSource, `oci://${ref}`);
  assert.deepEqual(report.documents[0].issues, [
    { path: '$.spec.matchRules[1].config.greeting', rule: 'type', message: 'must be string' },
    { path: '$.spec.matchRules[2].config.greeting', rule: 'required', message: "must have required property 'greeting'" },
  ]);
});

test('the merged form with _rules_ validates the global part and each rule', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'merged.json'), JSON.stringify({ greeting: 'g', _rules_: [{ _match_route_: ['a/b'], greeting: 'r' }, { _match_domain_: ['x.com'], limit: -1 }] }));
  const r = await cli(['validate', join(dir, 'merged.json'), '--spec', project, '--json']);
  assert.equal(r.code, 1);
  const paths = JSON.parse(r.stdout).documents[0].issues.map((i: { path: string }) => i.path);
  assert.deepEqual(paths.sort(), ['$._rules_[1].greeting', '$._rules_[1].limit']);
});
