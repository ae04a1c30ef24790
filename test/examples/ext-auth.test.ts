import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request } from './helpers.js';

const wasm = exampleWasm('ext-auth');
const envoyMode = {
  http_service: {
    endpoint_mode: 'envoy',
    endpoint: { service_name: 'ext-auth.backend.svc.cluster.local', service_port: 8090, path_prefix: '/auth' },
    timeout: 1000,
    authorization_request: { allowed_headers: [{ exact: 'x-auth-version' }], headers_to_add: { 'x-envoy-header': 'true' } },
    authorization_response: { allowed_upstream_headers: [{ exact: 'x-user-id' }] },
  },
};
const header = (h: Array<[string, string]>, n: string) => h.find(([k]) => k === n)?.[1];

function start(emu: Emulator, headers: Array<[string, string]> = [['authorization', 'xxx'], ['x-auth-version', '1.0'], ['foo', 'bar']]) {
  const s = emu.stream();
  const p = s.requestHeaders(request('POST', '/users?apikey=9a34', 'foo.bar.com', headers), { endOfStream: true });
  return { s, p };
}

test('ext-auth (envoy mode) pauses, calls the service with the original method and prefixed path, and resumes on 200', async () => {
  const emu = await Emulator.load(wasm, { configuration: envoyMode });
  const { s, p } = start(emu);
  await emu.settle();
  assert.equal(s.paused, true);
  assert.equal(emu.httpCalls.length, 1);
  const call = emu.httpCalls[0]!.request;
  assert.equal(call.cluster, 'outbound|8090||ext-auth.backend.svc.cluster.local');
  assert.equal(header(call.headers, ':method'), 'POST');
  assert.equal(header(call.headers, ':path'), '/auth/users?apikey=9a34');
  assert.equal(header(call.headers, ':authority'), 'ext-auth.backend.svc.cluster.local');
  assert.equal(header(call.headers, 'authorization'), 'xxx');
  assert.equal(header(call.headers, 'x-auth-version'), '1.0');
  assert.equal(header(call.headers, 'x-envoy-header'), 'true');
  assert.equal(header(call.headers, 'foo'), undefined);
  assert.equal(call.timeoutMs, 1000);
  await emu.httpCalls[0]!.respond({ status: 200, headers: [['x-user-id', 'u-42'], ['x-other', 'no']] });
  const r = await p;
  assert.equal(r.kind, 'continue');
  assert.equal(s.requestHeader('x-user-id'), 'u-42');
  assert.equal(s.requestHeader('x-other'), undefined);
});

test('ext-auth denies with the service status, body and headers when it says no', async () => {
  const emu = await Emulator.load(wasm, { configuration: envoyMode });
  const { s, p } = start(emu);
  await emu.settle();
  await emu.httpCalls[0]!.respond({ status: 401, headers: [['x-auth-failed', 'true']], body: 'who are you' });
  const r = await p;
  assert.equal(r.kind, 'local');
  assert.equal(s.localResponse?.status, 401);
  assert.equal(Buffer.from(s.localResponse!.body).toString(), 'who are you');
  assert.equal(header(s.localResponse!.headers, 'x-auth-failed'), 'true');
});

test('ext-auth answers status_on_error when the service fails or returns 5xx', async () => {
  const emu = await Emulator.load(wasm, { configuration: { ...envoyMode, status_on_error: 503 } });
  const a = start(emu);
  await emu.settle();
  await emu.httpCalls[0]!.respond(); // no answer: the call failed
  assert.equal((await a.p).kind, 'local');
  assert.equal(a.s.localResponse?.status, 503);
  const b = start(emu);
  await emu.settle();
  await emu.httpCalls[1]!.respond({ status: 500 });
  await b.p;
  assert.equal(b.s.localResponse?.status, 503);
});

test('ext-auth with failure_mode_allow lets the request through and marks it', async () => {
  const emu = await Emulator.load(wasm, { configuration: { ...envoyMode, failure_mode_allow: true, failure_mode_allow_header_add: true } });
  const { s, p } = start(emu);
  await emu.settle();
  await emu.httpCalls[0]!.respond({ status: 502 });
  assert.equal((await p).kind, 'continue');
  assert.equal(s.requestHeader('x-envoy-auth-failure-mode-allowed'), 'true');
});

test('ext-auth (forward_auth mode) sends the configured method and path with x-forwarded-* headers', async () => {
  const emu = await Emulator.load(wasm, { configuration: { http_service: {
    endpoint_mode: 'forward_auth',
    endpoint: { service_name: 'ext-auth.dns', service_port: 8090, service_host: 'my-domain.local', path: '/auth', request_method: 'POST' },
  } } });
  const { p } = start(emu, [['authorization', 'xxx']]);
  await emu.settle();
  const call = emu.httpCalls[0]!.request;
  assert.equal(call.cluster, 'outbound|8090||ext-auth.dns');
  assert.equal(header(call.headers, ':method'), 'POST');
  assert.equal(header(call.headers, ':path'), '/auth');
  assert.equal(header(call.headers, ':authority'), 'my-domain.local');
  assert.equal(header(call.headers, 'x-forwarded-method'), 'POST');
  assert.equal(header(call.headers, 'x-forwarded-host'), 'foo.bar.com');
  assert.equal(header(call.headers, 'x-forwarded-uri'), '/users?apikey=9a34');
  assert.equal(header(call.headers, 'x-forwarded-proto'), 'http');
  await emu.httpCalls[0]!.respond({ status: 200 });
  assert.equal((await p).kind, 'continue');
});

test('ext-auth refuses a configuration without an endpoint', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { http_service: {} } }), /http_service\.endpoint is required/);
  await assert.rejects(Emulator.load(wasm, { configuration: { http_service: { endpoint: { service_name: 'a' } } } }), /path_prefix is required/);
});
