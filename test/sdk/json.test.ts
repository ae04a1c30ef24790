import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { sdkTestPlugin } from './helpers.js';
import { request } from '../examples/helpers.js';

let emu: Emulator;
before(async () => { emu = await Emulator.load(await sdkTestPlugin('sdk-probe')); });

/** Parses `text` with the SDK's JSON reader inside the plugin: [status, description or error]. */
async function parse(text: string): Promise<[number, string]> {
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/', 'example.com', [['x-json', text]]), { endOfStream: true });
  s.finish();
  const r = s.localResponse;
  assert.ok(r, 'the probe answers every x-json request');
  return [r.status, Buffer.from(r.body).toString()];
}

const accepted: Array<[string, string]> = [
  ['{}', 'object {}'],
  ['[]', 'array 0 []'],
  ['  {"a" : 1 , "b":[true,false,null]}  ', 'object {a=number 1.0,b=array 3 [bool true,bool false,null]}'],
  ['"plain"', 'string plain'],
  ['"esc \\" \\\\ \\/ \\n \\t \\u0041\\u00e9"', 'string esc " \\ / \n \t A\u00e9'],
  ['-0.5e2', 'number -50.0'],
  ['1E3', 'number 1000.0'],
  ['0.125', 'number 0.125'],
  ['12345678', 'number 12345678.0'],
  ['{"a":{"b":{"c":[1,[2,[3]]]}}}', 'object {a=object {b=object {c=array 2 [number 1.0,array 2 [number 2.0,array 1 [number 3.0]]]}}}'],
  ['{"k":1,"k":2}', 'object {k=number 2.0,k=number 2.0}'],
];

for (const [text, expected] of accepted) {
  test(`JSON reader accepts ${JSON.stringify(text)}`, async () => {
    assert.deepEqual(await parse(text), [200, expected]);
  });
}

const rejected: Array<[string, RegExp]> = [
  ['{"a":1,}', /offset 7: expected a string key/],
  ['[1,2,]', /offset 5: unexpected character/],
  ["{'a':1}", /offset 1: expected a string key/],
  ['{"a":1} x', /offset 8: trailing characters/],
  ['// c\n{}', /offset 0: unexpected character/],
  ['{"a" 1}', /offset 5: expected ':'/],
  ['"tab\there"', /offset 4: control character/],
  ['"bad \\x"', /offset 6: bad escape/],
  ['"\\u12g4"', /offset 5: bad \\u escape/],
  ['01', /offset 1: trailing characters/],
  ['1.', /offset 2: bad number/],
  ['-', /offset 1: bad number/],
  ['1e+', /offset 3: bad number/],
  ['tru', /offset 0: unexpected character/],
  ['NaN', /offset 0: unexpected character/],
  ['"open', /offset 5: unterminated string/],
  ['', /offset 0: unexpected end/],
  ['['.repeat(101) + ']'.repeat(101), /nested too deep/],
];

for (const [text, expected] of rejected) {
  test(`JSON reader rejects ${JSON.stringify(text.length > 20 ? text.slice(0, 20) + '…' : text)}`, async () => {
    const [status, body] = await parse(text);
    assert.equal(status, 400);
    assert.match(body, expected);
  });
}

test('JSON reader accepts nesting up to its depth limit', async () => {
  const [status] = await parse('['.repeat(100) + ']'.repeat(100));
  assert.equal(status, 200);
});
