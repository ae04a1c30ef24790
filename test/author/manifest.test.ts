import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadSchema } from '../../spec/index.js';
import { compileStrict } from '../../cli/package/schema-check.js';
import { cli, tempDir } from './cli-helpers.js';

const tmp = tempDir('hp-manifest-');
const project = join(tmp.dir, 'key-check');
const IMAGE = 'oci://registry.example.com/plugins/key-check:1.0.0';

before(async () => {
  const r = await cli(['init', project, '--template', 'auth', '--yes'], tmp.dir);
  assert.equal(r.code, 0, r.stderr);
});
after(() => tmp.cleanup());

test('manifest prints a WasmPlugin with the phase, priority and example config from spec.yaml', async () => {
  const r = await cli(['manifest', '--image', IMAGE], project);
  assert.equal(r.code, 0, r.stderr);
  const doc = parse(r.stdout);
  assert.equal(doc.apiVersion, 'extensions.higress.io/v1alpha1');
  assert.equal(doc.kind, 'WasmPlugin');
  assert.deepEqual(doc.metadata, { name: 'key-check', namespace: 'higress-system' });
  assert.equal(doc.spec.url, IMAGE);
  assert.equal(doc.spec.pluginName, 'key-check');
  assert.equal(doc.spec.phase, 'AUTHN');
  assert.equal(doc.spec.priority, 310);
  assert.equal(doc.spec.defaultConfig.consumers[0].name, 'alice');
  assert.match(r.stderr, /using the example config/);
});

test('manifest turns --match-route and --match-domain into matchRules in the order given', async () => {
  writeFileSync(join(tmp.dir, 'global.yaml'), 'consumers:\n  - name: carol\n    key: c-key\n');
  writeFileSync(join(tmp.dir, 'api.json'), JSON.stringify({ allow: ['carol'] }));
  const r = await cli(['manifest', project, '--image', IMAGE, '--config', `@${join(tmp.dir, 'global.yaml')}`,
    '--match-route', `default/api,default/api-v2=@${join(tmp.dir, 'api.json')}`,
    '--match-domain', '*.example.com={"allow":[]}', '--phase', 'authz', '--priority', '50', '--namespace', 'gw'], tmp.dir);
  assert.equal(r.code, 0, r.stderr);
  const doc = parse(r.stdout);
  assert.equal(doc.metadata.namespace, 'gw');
  assert.equal(doc.spec.phase, 'AUTHZ');
  assert.equal(doc.spec.priority, 50);
  assert.deepEqual(doc.spec.defaultConfig, { consumers: [{ name: 'carol', key: 'c-key' }] });
  assert.deepEqual(doc.spec.matchRules, [
    { ingress: ['default/api', 'default/api-v2'], config: { allow: ['carol'] } },
    { domain: ['*.example.com'], config: { allow: [] } },
  ]);
  assert.equal(doc.spec.defaultConfigDisable, undefined);
  const validate = compileStrict(loadSchema('wasmplugin'));
  assert.ok(validate(doc), `the gateway's WasmPlugin schema accepts it: ${JSON.stringify(validate.errors)}`);
});

test('manifest with rules and no global config disables the default config', async () => {
  const r = await cli(['manifest', '--image', IMAGE, '--match-route', 'default/api={"allow":["alice"]}'], project);
  assert.equal(r.code, 0, r.stderr);
  const doc = parse(r.stdout);
  assert.equal(doc.spec.defaultConfigDisable, true);
  assert.equal(doc.spec.defaultConfig, undefined);
});

test('manifest refuses a config that breaks the schema and names the field', async () => {
  const r = await cli(['manifest', '--image', IMAGE, '--config', '{"consumers":[{"name":"dave"}],"hedaer":"x"}'], project);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /defaultConfig does not match/);
  assert.match(r.stderr, /\$\.consumers\[0\]\.key: must have required property 'key' \[required\]/);
  assert.match(r.stderr, /\$: unknown property "hedaer" \[additionalProperties\]/);
  assert.match(r.stderr, /\[HP_CONFIG_INVALID\]/);
});

test('manifest checks rule configs against the route schema', async () => {
  const r = await cli(['manifest', '--image', IMAGE, '--match-route', 'default/api={"allow":"alice"}'], project);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /matchRules\[0\] \(ingress default\/api\) config/);
  assert.match(r.stderr, /\$\.allow: must be array \[type\]/);
});

test('manifest rejects a route name without a namespace and an unknown phase', async () => {
  const bad = await cli(['manifest', '--image', IMAGE, '--match-route', 'api={"allow":[]}'], project);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"api" is not a route name <namespace>\/<name>/);
  const phase = await cli(['manifest', '--image', IMAGE, '--phase', 'LATE'], project);
  assert.equal(phase.code, 1);
  assert.match(phase.stderr, /"LATE" is not a phase/);
});

test('manifest --help shows examples', async () => {
  const r = await cli(['manifest', '--help'], tmp.dir);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Examples:\n\s+\$ higress-plugin manifest/);
});

test('manifest reads the schema from a pushed image when given its reference', { timeout: 60_000 }, async () => {
  const { startRegistry } = await import('../fixtures/registry.js');
  const { buildPluginImage } = await import('../../runtime/oci/plugin-image.js');
  const { memorySource, pushImage } = await import('../../runtime/oci/image-copy.js');
  const { Repository } = await import('../../runtime/oci/registry-client.js');
  const registry = await startRegistry();
  try {
    const spec = readFileSync(join(project, 'spec.yaml'));
    // Only spec.yaml matters here; the module is a bare header.
    const image = buildPluginImage({ wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), spec, created: '2026-01-01T00:00:00Z' });
    const ref = `oci://${registry.host}/plugins/key-check:1.0.0`;
    await pushImage(memorySource(image.descriptor, image.manifestBytes, image.blobs), image.descriptor, new Repository(ref), '1.0.0');
    const good = await cli(['manifest', ref, '--image', ref, '--config', '{"consumers":[{"name":"e","key":"k"}]}'], tmp.dir);
    assert.equal(good.code, 0, good.stderr);
    const doc = parse(good.stdout);
    assert.equal(doc.spec.pluginName, 'key-check');
    assert.equal(doc.spec.phase, 'AUTHN');
    const bad = await cli(['manifest', '--image', ref, '--config', '{"consumers":"all"}'], tmp.dir);
    assert.equal(bad.code, 1, 'with no project folder, the schema comes from --image');
    assert.match(bad.stderr, /\$\.consumers: must be array/);
  } finally {
    await registry.stop();
  }
});
