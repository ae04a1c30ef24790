import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request, response } from './helpers.js';

const wasm = exampleWasm('custom-response');

test('custom-response mocks every request with its status, headers and body', async () => {
  const emu = await Emulator.load(wasm, { configuration: { status_code: 200, headers: ['Content-Type=application/json', 'Hello=World'], body: '{"hello":"world"}' } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/anything'), { endOfStream: true });
  const r = s.localResponse!;
  assert.equal(r.status, 200);
  assert.equal(Buffer.from(r.body).toString(), '{"hello":"world"}');
  assert.ok(r.headers.some(([k, v]) => k === 'content-type' && v === 'application/json'));
  assert.ok(r.headers.some(([k, v]) => k === 'hello' && v === 'World'));
});

test('custom-response serves a JSON-looking body as JSON when no type is configured', async () => {
  const emu = await Emulator.load(wasm, { configuration: { body: '{"a":1}' } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  assert.ok(s.localResponse!.headers.some(([k, v]) => k === 'content-type' && v.startsWith('application/json')));
});

test('custom-response with enable_on_status replaces only matching upstream responses', async () => {
  const emu = await Emulator.load(wasm, { configuration: { enable_on_status: [429], status_code: 302, headers: ['Location=https://example.com'] } });
  const limited = emu.stream();
  assert.equal((await limited.requestHeaders(request('GET', '/'), { endOfStream: true })).kind, 'continue');
  await limited.responseHeaders(response(429), { endOfStream: true });
  assert.equal(limited.localResponse?.status, 302);
  assert.ok(limited.localResponse!.headers.some(([k, v]) => k === 'location' && v === 'https://example.com'));
  const fine = emu.stream();
  await fine.requestHeaders(request('GET', '/'), { endOfStream: true });
  await fine.responseHeaders(response(200), { endOfStream: true });
  assert.equal(fine.localResponse, undefined);
});

test('custom-response rewrites the 401 a later auth plugin sends', async () => {
  const custom = await Emulator.load(wasm, { name: 'custom-response', configuration: { enable_on_status: [401], status_code: 200, body: '{"errmsg":"please log in"}' } });
  const auth = await Emulator.load(exampleWasm('key-auth'), { name: 'key-auth', configuration: { consumers: [{ credential: 'k', name: 'c' }], keys: ['apikey'] } });
  const s = Emulator.chain([custom, auth]).stream();
  const r = await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  assert.equal(r.kind, 'local');
  assert.equal(s.localResponse?.status, 200);
  assert.equal(Buffer.from(s.localResponse!.body).toString(), '{"errmsg":"please log in"}');
});

test('custom-response refuses malformed headers and statuses', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { headers: ['no-equals'] } }), /headers\[0\] must be name=value/);
  await assert.rejects(Emulator.load(wasm, { configuration: { status_code: 42 } }), /status_code must be an HTTP status/);
});
