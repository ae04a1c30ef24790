import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request } from './helpers.js';

const wasm = exampleWasm('request-block');

async function send(emu: Emulator, path: string, headers: Array<[string, string]> = [], body?: string) {
  const s = emu.stream();
  const r = await s.requestHeaders(request(body === undefined ? 'GET' : 'POST', path, 'example.com', headers), { endOfStream: body === undefined });
  if (body !== undefined && r.kind === 'continue') await s.requestBody(body, { endOfStream: true });
  s.finish();
  return s;
}

test('request-block blocks URLs containing a configured string, ignoring case when asked', async () => {
  const emu = await Emulator.load(wasm, { configuration: { block_urls: ['swagger.html', 'foo=bar'], case_sensitive: false, blocked_message: 'no' } });
  for (const path of ['/Swagger.html', '/?foo=Bar']) {
    const s = await send(emu, path);
    assert.equal(s.localResponse?.status, 403, path);
    assert.equal(Buffer.from(s.localResponse!.body).toString(), 'no');
  }
  assert.equal((await send(emu, '/index.html')).localResponse, undefined);
});

test('request-block is case-sensitive by default', async () => {
  const emu = await Emulator.load(wasm, { configuration: { block_urls: ['swagger.html'] } });
  assert.equal((await send(emu, '/Swagger.html')).localResponse, undefined);
  assert.equal((await send(emu, '/swagger.html')).localResponse?.status, 403);
});

test('request-block blocks by header name or value with the configured status', async () => {
  const emu = await Emulator.load(wasm, { configuration: { block_headers: ['example-key', 'example-value'], blocked_code: 451 } });
  assert.equal((await send(emu, '/', [['example-key', '123']])).localResponse?.status, 451);
  assert.equal((await send(emu, '/', [['my-header', 'example-value']])).localResponse?.status, 451);
  assert.equal((await send(emu, '/', [['my-header', 'fine']])).localResponse, undefined);
});

test('request-block blocks by request body and lets other bodies through', async () => {
  const emu = await Emulator.load(wasm, { configuration: { block_bodies: ['hello world'], case_sensitive: false } });
  assert.equal((await send(emu, '/', [], 'say Hello World')).localResponse?.status, 403);
  const ok = await send(emu, '/', [], 'goodbye');
  assert.equal(ok.localResponse, undefined);
  assert.equal(Buffer.from(ok.requestBodyOut).toString(), 'goodbye');
});

test('request-block blocks URLs matching a regular expression', async () => {
  const emu = await Emulator.load(wasm, { configuration: { block_regexp_urls: ['\\.php(\\?|$)', '^/admin/'] } });
  assert.equal((await send(emu, '/index.php?x=1')).localResponse?.status, 403);
  assert.equal((await send(emu, '/admin/users')).localResponse?.status, 403);
  assert.equal((await send(emu, '/user/admin/')).localResponse, undefined);
});

test('request-block applies rule configs by route and domain', async () => {
  const emu = await Emulator.load(wasm, { configuration: { _rules_: [
    { _match_route_: ['default/route-a'], block_urls: ['secret'] },
    { _match_domain_: ['*.example.com'], block_urls: ['swagger'] },
  ] } });
  const viaRoute = emu.stream({ routeName: 'default/route-a' });
  await viaRoute.requestHeaders(request('GET', '/secret', 'other.org'), { endOfStream: true });
  assert.equal(viaRoute.localResponse?.status, 403);
  const viaDomain = emu.stream();
  await viaDomain.requestHeaders(request('GET', '/swagger', 'api.example.com'), { endOfStream: true });
  assert.equal(viaDomain.localResponse?.status, 403);
  const neither = emu.stream();
  await neither.requestHeaders(request('GET', '/secret', 'other.org'), { endOfStream: true });
  assert.equal(neither.localResponse, undefined);
});

test('request-block refuses a configuration without any block list or with a bad regex', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { blocked_code: 403 } }), /one of block_urls, block_headers, block_bodies, block_regexp_urls is required/);
  await assert.rejects(Emulator.load(wasm, { configuration: { block_regexp_urls: ['(a'] } }), /block_regexp_urls\[0\]: bad regex at offset 2: missing \)/);
});
