import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { cli, miniProject } from './helpers.js';
import { wasmInfo } from '../../runtime/oci/wasm-info.js';
import { buildPlugin, checkPluginModule } from '../../cli/package/build-plugin.js';
import { gunzipSync } from 'node:zlib';
import { readTar } from '../../runtime/oci/tar-gz.js';

interface BuildJson {
  digest: string;
  tag: string;
  layers: Array<{ mediaType: string; digest: string; size: number; title: string }>;
  abiVersion: string;
  outDir: string;
}

let first: BuildJson;
let project: string;

before(async () => {
  project = miniProject();
  const r = await cli(['build', project, '--json']);
  assert.equal(r.code, 0, r.stderr);
  first = JSON.parse(r.stdout);
});

async function wat(src: string): Promise<Uint8Array> {
  const wabt = await (await import('wabt')).default();
  const mod = wabt.parseWat('test.wat', src);
  return mod.toBinary({}).buffer;
}

test('the image has the Higress layout: READMEs, spec.yaml, then plugin.tar.gz last, each titled', () => {
  assert.deepEqual(first.layers.map((l) => l.title), ['README_EN.md', 'README.md', 'spec.yaml', 'plugin.tar.gz']);
  assert.deepEqual(first.layers.map((l) => l.mediaType), [
    'application/vnd.module.wasm.doc.v1.en+markdown',
    'application/vnd.module.wasm.doc.v1+markdown',
    'application/vnd.module.wasm.spec.v1+yaml',
    'application/vnd.oci.image.layer.v1.tar+gzip',
  ]);
  const manifest = JSON.parse(readFileSync(join(first.outDir, 'blobs', 'sha256', first.digest.slice(7)), 'utf8'));
  assert.match(manifest.annotations['org.opencontainers.image.created'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(first.tag, '0.1.0');
  const index = JSON.parse(readFileSync(join(first.outDir, 'index.json'), 'utf8'));
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], '0.1.0');
  assert.equal(readFileSync(join(first.outDir, 'oci-layout'), 'utf8'), '{"imageLayoutVersion":"1.0.0"}');
  const entries = readTar(gunzipSync(readFileSync(join(first.outDir, 'plugin.tar.gz'))));
  assert.deepEqual(entries.map((e) => e.name), ['plugin.wasm']);
  assert.ok(entries[0].data.equals(readFileSync(join(first.outDir, 'plugin.wasm'))));
});

test('plugin.wasm carries provenance in its producers section', () => {
  const info = wasmInfo(readFileSync(join(first.outDir, 'plugin.wasm')));
  assert.equal(info.abiVersion, '0.2.1');
  assert.ok(info.producers['processed-by'].some(([n]) => n === 'higress-plugin'));
  assert.ok(info.producers['processed-by'].some(([n, v]) => n === 'plugin:mini' && v === '0.1.0'));
  assert.equal(info.producers.language[0][0], 'AssemblyScript');
});

test('building the same sources twice gives identical digests', async () => {
  const again = await buildPlugin({ dir: project });
  assert.equal(again.manifest.digest, first.digest);
  assert.deepEqual(again.layers.map((l) => l.digest), first.layers.map((l) => l.digest));
  // A fresh checkout (other file times) gives the same layers, and the same manifest once the
  // creation time is fixed (as SOURCE_DATE_EPOCH does).
  const other = miniProject();
  utimesSync(join(other, 'spec.yaml'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  const a = await buildPlugin({ dir: other, created: '2024-01-01T00:00:00Z' });
  assert.deepEqual(a.layers.map((l) => l.digest), first.layers.map((l) => l.digest));
  const b = await buildPlugin({ dir: project, outDir: join(project, 'dist2'), created: '2024-01-01T00:00:00Z' });
  assert.equal(a.manifest.digest, b.manifest.digest);
});

test('a debug build keeps function names and a source map reference', async () => {
  const dir = miniProject();
  const r = await buildPlugin({ dir, debug: true });
  const info = wasmInfo(readFileSync(r.wasmPath));
  assert.ok(info.customSections.includes('name'), info.customSections.join(','));
  assert.ok(info.customSections.includes('sourceMappingURL'), info.customSections.join(','));
  assert.ok(existsSync(join(r.outDir, 'plugin.debug.wasm.map')));
  const release = wasmInfo(readFileSync(join(first.outDir, 'plugin.wasm')));
  assert.ok(!release.customSections.includes('sourceMappingURL'));
});

test('a spec.yaml that breaks its schema is refused with the JSON path and rule', async () => {
  const dir = miniProject();
  const spec = readFileSync(join(dir, 'spec.yaml'), 'utf8');
  writeFileSync(join(dir, 'spec.yaml'), spec.replace('  version: 0.1.0\n', '').replace('category: custom', 'category: nonsense'));
  const r = await cli(['build', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\$\.info\.version: .*\[required\]/);
  assert.match(r.stderr, /\$\.info\.category: .*\[enum\]/);
});

test('a config example that does not satisfy the openAPIV3Schema is refused', async () => {
  const dir = miniProject();
  const spec = readFileSync(join(dir, 'spec.yaml'), 'utf8');
  writeFileSync(join(dir, 'spec.yaml'), spec.replace('limit: 3', 'limit: 0'));
  const r = await cli(['build', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /example does not satisfy the schema/);
  assert.match(r.stderr, /\$\.limit: must be >= 1 \[minimum\]/);
});

test('a plugin importing a function no host provides fails the build, naming the import', async () => {
  const dir = miniProject();
  const src = readFileSync(join(dir, 'assembly', 'index.ts'), 'utf8');
  writeFileSync(join(dir, 'assembly', 'index.ts'), `${src}\n@external("env", "launch_rockets")\ndeclare function launch_rockets(): i32;\nexport function go(): i32 { return launch_rockets(); }\n`);
  await assert.rejects(buildPlugin({ dir }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'HP_PACKAGE_MODULE');
    assert.match(e.message, /imports functions no proxy-wasm host provides: env\.launch_rockets/);
    return true;
  });
});

test('module checks: the ABI marker is required and WASI/proxy-wasm imports are accepted', async () => {
  const noMarker = wasmInfo(await wat('(module (import "env" "proxy_log" (func (param i32 i32 i32) (result i32))) (memory (export "memory") 1))'));
  assert.throws(() => checkPluginModule(noMarker, 'x.wasm'), /no proxy-wasm ABI marker/);
  const ok = wasmInfo(await wat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "env" "proxy_get_header_map_value" (func (param i32 i32 i32 i32 i32) (result i32)))
    (func (export "proxy_abi_version_0_2_0"))
    (memory (export "memory") 1))`));
  assert.equal(ok.abiVersion, '0.2.0');
  checkPluginModule(ok, 'ok.wasm');
});

test('an unknown keyword in the config schema (e.g. YAML split at a comma) is named', async () => {
  const dir = miniProject();
  const spec = readFileSync(join(dir, 'spec.yaml'), 'utf8');
  writeFileSync(join(dir, 'spec.yaml'), spec.replace('        limit:\n          type: integer\n          minimum: 1\n', '        limit: { type: integer, minimum: 1, description: How many, at most. }\n'));
  const r = await cli(['build', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown keyword: "at most\."/);
  assert.match(r.stderr, /left unquoted inside a \{ … \} YAML mapping/);
});
