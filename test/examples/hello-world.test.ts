import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, moduleImports, moduleExports, request, response, values } from './helpers.js';

const wasm = exampleWasm('hello-world');

test('hello-world adds its header to the request and the response and logs the path', async () => {
  const emu = await Emulator.load(wasm, { name: 'hello-world' });
  const s = emu.stream();
  const r = await s.requestHeaders(request('GET', '/greet?x=1'), { endOfStream: true });
  assert.equal(r.kind, 'continue');
  assert.deepEqual(values(s.requestHeadersOut, 'x-hello'), ['world']);
  await s.responseHeaders(response(200), { endOfStream: true });
  assert.deepEqual(values(s.responseHeadersOut, 'x-hello'), ['world']);
  s.finish();
  assert.ok(emu.logsAt('info').includes('[hello-world] hello /greet?x=1'), JSON.stringify(emu.logs));
});

test('hello-world takes the header name and value from its configuration', async () => {
  const emu = await Emulator.load(wasm, { configuration: { header: 'x-greeting', value: 'hi' } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  assert.deepEqual(values(s.requestHeadersOut, 'x-greeting'), ['hi']);
  assert.deepEqual(values(s.requestHeadersOut, 'x-hello'), []);
  s.finish();
});

test('hello-world refuses a configuration with a wrong type and says which field', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { header: 5 } }), (err: Error) => {
    assert.match(String((err as any).logs ?? '') + err.message, /header must be a string, got a number/);
    return true;
  });
});

test('hello-world release build is at most 16.5 KiB and imports only proxy-wasm host functions', () => {
  // Every SDK plugin exports the full callback set (the four gRPC ones cost ~190 bytes of names).
  const size = statSync(wasm).size;
  assert.ok(size <= 16.5 * 1024, `hello-world is ${size} bytes`);
  for (const imp of moduleImports(wasm)) assert.match(imp, /^env\.proxy_/);
  const exports = moduleExports(wasm);
  for (const e of ['proxy_abi_version_0_2_1', 'proxy_on_memory_allocate', 'malloc', 'proxy_on_request_headers', 'proxy_on_configure'])
    assert.ok(exports.includes(e), e);
});
