// Tests of {{name}} on the emulator: the plugin's outbound call is answered by the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Emulator } from 'higress-plugin/emulator';

// Under plain `node --test`, the module `higress-plugin build` wrote.
const wasm = process.env.HIGRESS_PLUGIN_WASM ?? fileURLToPath(new URL('../dist/plugin.wasm', import.meta.url));
const header = (list, name) => list.find(([k]) => k === name)?.[1];
const request = [[':method', 'POST'], [':path', '/orders'], [':authority', 'api.example.com'], [':scheme', 'http'],
  ['authorization', 'Bearer abc']];
const config = { service: 'auth.static', port: 8080, path: '/check', timeout_ms: 300, forward_header: 'x-user-id' };

test('asks the service and lets the request through on 200, with the forwarded header', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  const s = emu.stream();
  const headersDone = s.requestHeaders(request, { endOfStream: true });
  assert.equal(emu.httpCalls.length, 1);
  const call = emu.httpCalls[0].request;
  assert.equal(call.cluster, 'outbound|8080||auth.static');
  assert.equal(header(call.headers, ':path'), '/check');
  assert.equal(header(call.headers, 'x-original-path'), '/orders');
  assert.equal(header(call.headers, 'authorization'), 'Bearer abc');
  await emu.httpCalls[0].respond({ status: 200, headers: [['x-user-id', 'u-42']] });
  await headersDone;
  assert.equal(s.localResponse, undefined);
  assert.equal(header(s.requestHeadersOut, 'x-user-id'), 'u-42');
  s.finish();
});

test('denies with 403 when the service says no or does not answer', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  for (const answer of [{ status: 401 }, undefined]) {
    emu.httpCalls.length = 0;
    const s = emu.stream();
    const headersDone = s.requestHeaders(request, { endOfStream: true });
    await emu.httpCalls[0].respond(answer);
    await headersDone;
    assert.equal(s.localResponse?.status, 403);
    s.finish();
  }
});

test('a config without a service is rejected', async () => {
  await assert.rejects(Emulator.load(wasm, { name: '{{name}}', configuration: { path: '/x' } }), /service is required/);
});
