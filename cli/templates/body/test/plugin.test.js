// Tests of {{name}} on the emulator: response bodies go through the plugin whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Emulator } from 'higress-plugin/emulator';

// Under plain `node --test`, the module `higress-plugin build` wrote.
const wasm = process.env.HIGRESS_PLUGIN_WASM ?? fileURLToPath(new URL('../dist/plugin.wasm', import.meta.url));
const header = (list, name) => list.find(([k]) => k === name)?.[1];
const request = [[':method', 'GET'], [':path', '/'], [':authority', 'example.com'], [':scheme', 'http']];
const config = { replace: [{ from: 'hello', to: 'goodbye' }, { from: 'world', to: 'moon' }] };

test('replaces words in a text body that arrives in chunks', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  const s = emu.stream();
  await s.requestHeaders(request, { endOfStream: true });
  await s.responseHeaders([[':status', '200'], ['content-type', 'text/plain'], ['content-length', '17']]);
  assert.equal(header(s.responseHeadersOut, 'content-length'), undefined, 'the length may change');
  await s.responseBody('hello wor');
  await s.responseBody('ld, hello', { endOfStream: true });
  assert.equal(Buffer.from(s.responseBodyOut).toString(), 'goodbye moon, goodbye');
  s.finish();
});

test('leaves other content types alone', async () => {
  const emu = await Emulator.load(wasm, { name: '{{name}}', configuration: config });
  const s = emu.stream();
  await s.requestHeaders(request, { endOfStream: true });
  await s.responseHeaders([[':status', '200'], ['content-type', 'image/png']]);
  await s.responseBody('hello world', { endOfStream: true });
  assert.equal(Buffer.from(s.responseBodyOut).toString(), 'hello world');
  s.finish();
});
