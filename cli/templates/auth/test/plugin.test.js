// Tests of {{name}} on the emulator (see hello's test for how the pieces resolve).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Emulator } from 'higress-plugin/emulator';

// Under plain `node --test`, the module `higress-plugin build` wrote.
const wasm = process.env.HIGRESS_PLUGIN_WASM ?? fileURLToPath(new URL('../dist/plugin.wasm', import.meta.url));
const header = (list, name) => list.find(([k]) => k === name)?.[1];
const request = (path, extra = [], authority = 'api.example.com') =>
  [[':method', 'GET'], [':path', path], [':authority', authority], [':scheme', 'http'], ...extra];

const config = {
  consumers: [{ name: 'alice', key: 'alice-secret' }, { name: 'bob', key: 'bob-secret' }],
  _rules_: [{ _match_route_: ['default/admin'], allow: ['alice'] }],
};

test('a known key passes with the consumer name and without the key', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  const s = emu.stream({ routeName: 'default/api' });
  await s.requestHeaders(request('/orders', [['x-api-key', 'bob-secret']]), { endOfStream: true });
  assert.equal(s.localResponse, undefined);
  assert.equal(header(s.requestHeadersOut, 'x-mse-consumer'), 'bob');
  assert.equal(header(s.requestHeadersOut, 'x-api-key'), undefined);
  s.finish();
});

test('no key or an unknown key gets 401 with WWW-Authenticate', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  for (const extra of [[], [['x-api-key', 'guess']]]) {
    const s = emu.stream({ routeName: 'default/api' });
    await s.requestHeaders(request('/orders', extra), { endOfStream: true });
    assert.equal(s.localResponse?.status, 401);
    assert.match(header(s.localResponse.headers, 'www-authenticate') ?? '', /^Key realm=/);
    s.finish();
  }
});

test('a route rule admits only its allowed consumers', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  const bob = emu.stream({ routeName: 'default/admin' });
  await bob.requestHeaders(request('/admin', [['x-api-key', 'bob-secret']]), { endOfStream: true });
  assert.equal(bob.localResponse?.status, 401);
  bob.finish();
  const alice = emu.stream({ routeName: 'default/admin' });
  await alice.requestHeaders(request('/admin', [['x-api-key', 'alice-secret']]), { endOfStream: true });
  assert.equal(alice.localResponse, undefined);
  alice.finish();
});

test('a consumer without a key is a config error', async () => {
  await assert.rejects(Emulator.load(wasm, { name: '{{name}}', configuration: { consumers: [{ name: 'eve' }] } }), /key is required/);
});
