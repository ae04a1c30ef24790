import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request } from './helpers.js';

const wasm = exampleWasm('key-auth');
const K1 = '2bda943c-ba2b-11ec-ba07-00163e1250b5';
const K2 = 'c8c8e9ca-558e-4a2d-bb62-e700dcc40e35';
const config = {
  consumers: [{ credential: K1, name: 'consumer1' }, { credential: K2, name: 'consumer2' }],
  keys: ['apikey', 'x-api-key'],
  _rules_: [{ _match_route_: ['default/route-a'], allow: ['consumer1'] }],
};

async function call(emu: Emulator, path: string, headers: Array<[string, string]> = [], route = 'default/route-a') {
  const s = emu.stream({ routeName: route });
  await s.requestHeaders(request('GET', path, 'xxx.hello.com', headers), { endOfStream: true });
  s.finish();
  return s;
}
const body = (s: { localResponse?: { body: Uint8Array } }) => Buffer.from(s.localResponse!.body).toString();

test('key-auth accepts the key from a query parameter or a header and sets x-mse-consumer', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const q = await call(emu, `/test?apikey=${K1}`);
  assert.equal(q.localResponse, undefined);
  assert.equal(q.requestHeader('x-mse-consumer'), 'consumer1');
  const h = await call(emu, '/test', [['x-api-key', K1]]);
  assert.equal(h.requestHeader('x-mse-consumer'), 'consumer1');
});

test('key-auth answers 401 without a key or with an unknown key, 403 outside the allow list', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const none = await call(emu, '/test');
  assert.equal(none.localResponse?.status, 401);
  assert.equal(body(none), 'No API key found in request.');
  const bad = await call(emu, '/test?apikey=926d90ac');
  assert.equal(bad.localResponse?.status, 401);
  assert.equal(body(bad), 'Request denied by Key Auth check. Invalid API key.');
  const other = await call(emu, `/test?apikey=${K2}`);
  assert.equal(other.localResponse?.status, 403);
  assert.equal(body(other), 'Request denied by Key Auth check. Unauthorized consumer.');
  // outside the rule the global config applies: any consumer
  assert.equal((await call(emu, `/test?apikey=${K2}`, [], 'default/route-b')).requestHeader('x-mse-consumer'), 'consumer2');
});

test('key-auth ignores the query when in_query is false', async () => {
  const emu = await Emulator.load(wasm, { configuration: { ...config, in_query: false, _rules_: undefined } });
  assert.equal((await call(emu, `/test?apikey=${K1}`)).localResponse?.status, 401);
  assert.equal((await call(emu, '/test', [['apikey', K1]])).localResponse, undefined);
});

test('key-auth refuses a configuration without keys or with both sources off', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { consumers: config.consumers } }), /keys is required/);
  await assert.rejects(Emulator.load(wasm, { configuration: { ...config, in_query: false, in_header: false } }), /at least one of in_query and in_header must be true/);
});
