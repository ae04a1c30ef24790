import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { Emulator } from '../../runtime/emulator/index.js';
import { loadPluginSpec } from '../../cli/package/plugin-spec.js';
import { exampleWasm, moduleImports } from './helpers.js';

const examplesDir = join(PACKAGE_ROOT, 'examples');
const names = readdirSync(examplesDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

test('the examples folder holds every example plugin the SDK promises', () => {
  for (const n of ['hello-world', 'request-block', 'basic-auth', 'key-auth', 'transformer', 'custom-response', 'cors',
    'key-rate-limit', 'ext-auth', 'ip-restriction', 'response-body-rewrite'])
    assert.ok(names.includes(n), n);
});

for (const name of names) {
  test(`example ${name} is a complete plugin project whose spec.yaml example configures it`, async () => {
    const dir = join(examplesDir, name);
    for (const f of ['assembly/index.ts', 'spec.yaml', 'README.md', 'package.json']) assert.ok(existsSync(join(dir, f)), `${name}/${f}`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    assert.equal(pkg.name, name);
    assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
    assert.equal(pkg.private, true);
    // The same checks `higress-plugin build` makes: spec.yaml against its schema, the config
    // schema compiled strictly, and its example satisfying it.
    const { spec } = loadPluginSpec(readFileSync(join(dir, 'spec.yaml'), 'utf8'), `${name}/spec.yaml`);
    assert.equal(spec.info.name, name);
    const schema = spec.spec.configSchema!.openAPIV3Schema;
    assert.equal(schema.type, 'object');
    assert.ok(schema.example, `${name}: configSchema.openAPIV3Schema.example`);
    // ...and the plugin itself accepts it.
    const emu = await Emulator.load(exampleWasm(name), { configuration: schema.example });
    assert.equal(emu.plugin.state, 'ready');
    for (const imp of moduleImports(exampleWasm(name))) assert.match(imp, /^env\.proxy_/, `${name} imports ${imp}`);
    // The SDK tells the host which body callbacks have a handler: bodies of the others stream past the VM.
    const src = readFileSync(join(dir, 'assembly/index.ts'), 'utf8');
    assert.equal(emu.plugin.handlesRequestBody, /\.onHttp(Streaming)?RequestBody\(/.test(src), `${name}: request body callback`);
    assert.equal(emu.plugin.handlesResponseBody, /\.onHttp(Streaming)?ResponseBody\(/.test(src), `${name}: response body callback`);
  });
}
