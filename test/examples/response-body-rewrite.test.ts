import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request, response, values } from './helpers.js';

const wasm = exampleWasm('response-body-rewrite');
const config = { rules: [{ pattern: 'http://internal\\.svc(/\\w+)?', replace: 'https://api.example.com$1' }, { pattern: '"password":"[^"]*"', replace: '"password":"***"' }] };

async function fetchThrough(emu: Emulator, type: string, chunks: string[], extra: Array<[string, string]> = []) {
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  await s.responseHeaders(response(200, [['content-type', type], ...extra]), { endOfStream: false });
  for (let i = 0; i < chunks.length; i++) await s.responseBody(chunks[i], { endOfStream: i === chunks.length - 1 });
  s.finish();
  return s;
}

test('response-body-rewrite rewrites a JSON body that arrives in chunks, with groups', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = await fetchThrough(emu, 'application/json', ['{"next":"http://internal.svc/page2",', '"password":"hunter2"}'], [['content-length', '50']]);
  assert.equal(Buffer.from(s.responseBodyOut).toString(), '{"next":"https://api.example.com/page2","password":"***"}');
  assert.deepEqual(values(s.responseHeadersOut, 'content-length'), []);
});

test('response-body-rewrite leaves other content types untouched', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = await fetchThrough(emu, 'image/png', ['http://internal.svc', ' more']);
  assert.equal(Buffer.from(s.responseBodyOut).toString(), 'http://internal.svc more');
});

test('response-body-rewrite refuses a bad pattern', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { rules: [{ pattern: '[a' }] } }), /rules\[0\]\.pattern: bad regex/);
  await assert.rejects(Emulator.load(wasm, { configuration: {} }), /rules is required/);
});
