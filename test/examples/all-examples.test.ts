import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import AjvModule from 'ajv';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, moduleImports } from './helpers.js';

const Ajv = AjvModule.default ?? AjvModule;
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
    const spec = parseYaml(readFileSync(join(dir, 'spec.yaml'), 'utf8'));
    assert.equal(spec.info.name, name);
    const schema = spec.spec.configSchema.openAPIV3Schema;
    assert.equal(schema.type, 'object');
    assert.ok(schema.example, `${name}: configSchema.openAPIV3Schema.example`);
    // The example satisfies the schema (ajv, ignoring the OpenAPI/Higress annotation keywords)...
    const ajv = new Ajv({ strict: false });
    assert.ok(ajv.validate(schema, schema.example), `${name}: ${ajv.errorsText()}`);
    // ...and the plugin itself accepts it.
    const emu = await Emulator.load(exampleWasm(name), { configuration: schema.example });
    assert.equal(emu.plugin.state, 'ready');
    for (const imp of moduleImports(exampleWasm(name))) assert.match(imp, /^env\.proxy_/, `${name} imports ${imp}`);
  });
}
