import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request, response, values } from './helpers.js';

const wasm = exampleWasm('cors');
const config = {
  allow_origins: ['http://httpbin.example.net'],
  allow_origin_patterns: ['http://*.example.com:[*]', 'http://*.example.org:[9090,8080]'],
  allow_methods: ['GET', 'POST', 'PATCH'],
  allow_headers: ['Content-Type', 'Token', 'Authorization'],
  expose_headers: ['X-Custom-Header', 'X-Env-UTM'],
  allow_credentials: true,
  max_age: 3600,
};
const header = (h: Array<[string, string]>, name: string) => h.find(([k]) => k === name)?.[1];

async function preflight(emu: Emulator, origin: string, method: string, headers?: string) {
  const extra: Array<[string, string]> = [['origin', origin], ['access-control-request-method', method]];
  if (headers) extra.push(['access-control-request-headers', headers]);
  const s = emu.stream();
  await s.requestHeaders(request('OPTIONS', '/anything/get?foo=1', 'httpbin.example.com', extra), { endOfStream: true });
  s.finish();
  return s;
}

test('cors answers a valid preflight with the allow headers (Higress example)', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = await preflight(emu, 'http://httpbin2.example.org:9090', 'POST', 'Content-Type, Token');
  const r = s.localResponse!;
  assert.equal(r.status, 200);
  assert.equal(header(r.headers, 'access-control-allow-origin'), 'http://httpbin2.example.org:9090');
  assert.equal(header(r.headers, 'access-control-allow-methods'), 'GET,POST,PATCH');
  assert.equal(header(r.headers, 'access-control-allow-headers'), 'Content-Type,Token,Authorization');
  assert.equal(header(r.headers, 'access-control-expose-headers'), 'X-Custom-Header,X-Env-UTM');
  assert.equal(header(r.headers, 'access-control-allow-credentials'), 'true');
  assert.equal(header(r.headers, 'access-control-max-age'), '3600');
});

test('cors rejects a preflight with a bad origin, method or header with 403', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  for (const [origin, method, headers] of [
    ['http://httpbin2.example.org', 'GET', undefined],
    ['http://httpbin2.example.org:9090', 'DELETE', undefined],
    ['http://httpbin2.example.org:9090', 'GET', 'TokenView'],
  ] as Array<[string, string, string | undefined]>) {
    const s = await preflight(emu, origin, method, headers);
    assert.equal(s.localResponse?.status, 403, `${origin} ${method} ${headers}`);
    assert.equal(Buffer.from(s.localResponse!.body).toString(), 'Invalid CORS request');
  }
});

test('cors adds allow-origin to the response of a simple cross-origin request', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = emu.stream();
  const r = await s.requestHeaders(request('GET', '/anything', 'httpbin.example.com', [['origin', 'http://a.b.example.com:1234']]), { endOfStream: true });
  assert.equal(r.kind, 'continue');
  await s.responseHeaders(response(200), { endOfStream: true });
  assert.deepEqual(values(s.responseHeadersOut, 'access-control-allow-origin'), ['http://a.b.example.com:1234']);
  assert.deepEqual(values(s.responseHeadersOut, 'access-control-allow-credentials'), ['true']);
});

test('cors leaves requests without Origin alone and sends * for any origin without credentials', async () => {
  const emu = await Emulator.load(wasm, { configuration: {} });
  const plain = emu.stream();
  await plain.requestHeaders(request('GET', '/'), { endOfStream: true });
  await plain.responseHeaders(response(200), { endOfStream: true });
  assert.deepEqual(values(plain.responseHeadersOut, 'access-control-allow-origin'), []);
  const cross = emu.stream();
  await cross.requestHeaders(request('GET', '/', 'example.com', [['origin', 'http://x.io']]), { endOfStream: true });
  await cross.responseHeaders(response(200), { endOfStream: true });
  assert.deepEqual(values(cross.responseHeadersOut, 'access-control-allow-origin'), ['*']);
});
