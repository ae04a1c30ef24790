// Tests of {{name}} on the emulator: the compiled plugin runs in the same host the gateway uses,
// driven request by request. `higress-plugin test` builds the plugin first and sets
// HIGRESS_PLUGIN_WASM; `higress-plugin/emulator` resolves to the higress-plugin running the tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Emulator } from 'higress-plugin/emulator';

// Under plain `node --test`, the module `higress-plugin build` wrote.
const wasm = process.env.HIGRESS_PLUGIN_WASM ?? fileURLToPath(new URL('../dist/plugin.wasm', import.meta.url));

const request = [[':method', 'GET'], [':path', '/hello'], [':authority', 'example.com'], [':scheme', 'http']];
const header = (list, name) => list.find(([k]) => k === name)?.[1];

test('adds the x-hello header to the request and the response', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: { message: 'hi there' } });
  const s = emu.stream();
  await s.requestHeaders(request, { endOfStream: true });
  assert.equal(header(s.requestHeadersOut, 'x-hello'), 'hi there');
  await s.responseHeaders([[':status', '200']], { endOfStream: true });
  assert.equal(header(s.responseHeadersOut, 'x-hello'), 'hi there');
  s.finish();
});

test('logs each request', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: {} });
  const s = emu.stream();
  await s.requestHeaders(request, { endOfStream: true });
  assert.ok(emu.logs.some((l) => l.message.includes('GET /hello')), JSON.stringify(emu.logs));
  s.finish();
});
