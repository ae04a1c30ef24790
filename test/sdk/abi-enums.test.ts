import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ABI, PACKAGE_ROOT } from '../../spec/index.js';

/** Every `export enum Name { KEY = n, ... }` of an AssemblyScript source, as plain objects. */
function enumsOf(source: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const m of source.matchAll(/export enum (\w+) \{([^}]*)\}/g)) {
    const members: Record<string, number> = {};
    for (const e of m[2].matchAll(/(\w+)\s*=\s*(-?\d+)/g)) members[e[1]] = Number(e[2]);
    out[m[1]] = members;
  }
  return out;
}

const sdkEnums = enumsOf(readFileSync(join(PACKAGE_ROOT, 'sdk', 'assembly', 'types.ts'), 'utf8'));

test('every numbered SDK enum equals the one in spec/abi.json', () => {
  const names = Object.keys(sdkEnums);
  assert.ok(names.length >= 10, `found ${names.join(', ')}`);
  const specEnums = ABI.enums as unknown as Record<string, Record<string, number>>;
  for (const name of names) {
    assert.ok(specEnums[name], `spec/abi.json has no enum ${name}`);
    assert.deepEqual(sdkEnums[name], specEnums[name], name);
  }
});

test('the SDK covers every proxy-wasm enum a plugin uses', () => {
  for (const name of ['WasmResult', 'LogLevel', 'FilterHeadersStatus', 'FilterDataStatus', 'BufferType', 'MapType', 'StreamType', 'MetricType'])
    assert.ok(sdkEnums[name], name);
});

test('every host function the SDK imports is in the ABI table with the same arity', () => {
  const src = readFileSync(join(PACKAGE_ROOT, 'sdk', 'assembly', 'hostcalls.ts'), 'utf8');
  const byName = new Map(ABI.hostFunctions.map((f) => [f.name, f]));
  const decls = [...src.matchAll(/@external\("env", "(\w+)"\)\s*declare function \w+\(([^)]*)\)/g)];
  assert.ok(decls.length > 20);
  for (const [, name, params] of decls) {
    const f = byName.get(name);
    assert.ok(f, `${name} is not a proxy-wasm host function`);
    const arity = params.trim() === '' ? 0 : params.split(',').length;
    assert.equal(arity, f.params.length, name);
  }
});
