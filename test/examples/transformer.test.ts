import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request, response, values } from './helpers.js';

const wasm = exampleWasm('transformer');

test('transformer rewrites request headers in configuration order (Higress example)', async () => {
  const emu = await Emulator.load(wasm, { configuration: { reqRules: [
    { operate: 'remove', headers: [{ key: 'X-remove' }] },
    { operate: 'rename', headers: [{ oldKey: 'X-not-renamed', newKey: 'X-renamed' }] },
    { operate: 'replace', headers: [{ key: 'X-replace', newValue: 'replaced' }] },
    { operate: 'add', headers: [{ key: 'X-add-append', value: 'host-\\$1', host_pattern: '^(.*)\\.com$' }] },
    { operate: 'append', headers: [{ key: 'X-add-append', appendValue: 'path-$1', path_pattern: '^.*?\\/(\\w+)[\\?]{0,1}.*$' }] },
    { operate: 'map', headers: [{ fromKey: 'X-add-append', toKey: 'X-map' }] },
    { operate: 'dedupe', headers: [{ key: 'X-dedupe-first', strategy: 'RETAIN_FIRST' }, { key: 'X-dedupe-last', strategy: 'RETAIN_LAST' }, { key: 'X-dedupe-unique', strategy: 'RETAIN_UNIQUE' }] },
  ] } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/get', 'foo.bar.com', [
    ['x-remove', 'exist'], ['x-not-renamed', 'test'], ['x-replace', 'not-replaced'],
    ['x-dedupe-first', '1'], ['x-dedupe-first', '2'], ['x-dedupe-first', '3'],
    ['x-dedupe-last', 'a'], ['x-dedupe-last', 'b'], ['x-dedupe-last', 'c'],
    ['x-dedupe-unique', '1'], ['x-dedupe-unique', '2'], ['x-dedupe-unique', '3'], ['x-dedupe-unique', '3'], ['x-dedupe-unique', '1'],
  ]), { endOfStream: true });
  const out = s.requestHeadersOut;
  assert.deepEqual(values(out, 'x-remove'), []);
  assert.deepEqual(values(out, 'x-renamed'), ['test']);
  assert.deepEqual(values(out, 'x-not-renamed'), []);
  assert.deepEqual(values(out, 'x-replace'), ['replaced']);
  assert.deepEqual(values(out, 'x-add-append'), ['host-foo.bar', 'path-get']);
  assert.deepEqual(values(out, 'x-map'), ['host-foo.bar', 'path-get']);
  assert.deepEqual(values(out, 'x-dedupe-first'), ['1']);
  assert.deepEqual(values(out, 'x-dedupe-last'), ['c']);
  assert.deepEqual(values(out, 'x-dedupe-unique'), ['1', '2', '3']);
  assert.equal(s.requestHeader(':path'), '/get');
});

test('transformer rewrites query parameters (Higress example)', async () => {
  const emu = await Emulator.load(wasm, { configuration: { reqRules: [
    { operate: 'remove', querys: [{ key: 'k1' }] },
    { operate: 'rename', querys: [{ oldKey: 'k2', newKey: 'k2-new' }] },
    { operate: 'replace', querys: [{ key: 'k2-new', newValue: 'v2-new' }] },
    { operate: 'add', querys: [{ key: 'k3', value: 'v31-$1', path_pattern: '^.*?\\/(\\w+)[\\?]{0,1}.*$' }] },
    { operate: 'append', querys: [{ key: 'k3', appendValue: 'v32' }] },
    { operate: 'map', querys: [{ fromKey: 'k3', toKey: 'k4' }] },
    { operate: 'dedupe', querys: [{ key: 'k4', strategy: 'RETAIN_FIRST' }] },
  ] } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/get?k1=v11&k1=v12&k2=v2', 'foo.bar.com'), { endOfStream: true });
  assert.equal(s.requestHeader(':path'), '/get?k2-new=v2-new&k3=v31-get&k3=v32&k4=v31-get');
});

test('transformer skips a patterned item whose pattern does not match', async () => {
  const emu = await Emulator.load(wasm, { configuration: { reqRules: [
    { operate: 'add', headers: [{ key: 'x-env', value: 'prod', host_pattern: '^api\\.' }, { key: 'x-env', value: 'other', host_pattern: '^www\\.' }] },
  ] } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/', 'www.example.com'), { endOfStream: true });
  assert.deepEqual(values(s.requestHeadersOut, 'x-env'), ['other']);
});

test('transformer rewrites response headers', async () => {
  const emu = await Emulator.load(wasm, { configuration: { respRules: [
    { operate: 'remove', headers: [{ key: 'Server' }] },
    { operate: 'add', headers: [{ key: 'x-transformed', value: 'true' }] },
  ] } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  await s.responseHeaders(response(200, [['server', 'envoy'], ['content-type', 'text/plain']]), { endOfStream: true });
  assert.deepEqual(values(s.responseHeadersOut, 'server'), []);
  assert.deepEqual(values(s.responseHeadersOut, 'x-transformed'), ['true']);
  assert.deepEqual(values(s.responseHeadersOut, ':status'), ['200']);
});

test('transformer refuses unknown operations, bad patterns and body rules', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { reqRules: [{ operate: 'delete' }] } }), /reqRules\[0\]\.operate must be one of/);
  await assert.rejects(Emulator.load(wasm, { configuration: { reqRules: [{ operate: 'add', headers: [{ key: 'a', value: 'b', path_pattern: '(' }] }] } }),
    /reqRules\[0\]\.headers\[0\]\.path_pattern: bad regex/);
  await assert.rejects(Emulator.load(wasm, { configuration: { reqRules: [{ operate: 'remove', body: [{ key: 'a' }] }] } }), /not supported/);
});
