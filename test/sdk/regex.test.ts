import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { sdkTestPlugin } from './helpers.js';
import { request } from '../examples/helpers.js';

let emu: Emulator;
before(async () => { emu = await Emulator.load(await sdkTestPlugin('sdk-probe')); });

/** Runs the SDK regex engine in the plugin: [status, "match g0|g1..." / "nomatch" / replaced text / error]. */
async function run(pattern: string, input: string, replace?: string): Promise<[number, string]> {
  const s = emu.stream();
  const extra: Array<[string, string]> = [['x-regex', pattern], ['x-input', input]];
  if (replace !== undefined) extra.push(['x-replace', replace]);
  await s.requestHeaders(request('GET', '/', 'example.com', extra), { endOfStream: true });
  s.finish();
  assert.ok(s.localResponse);
  return [s.localResponse.status, Buffer.from(s.localResponse.body).toString()];
}

// [pattern, input, expected] — expected as Go's regexp.FindStringSubmatch would give it.
const matches: Array<[string, string, string]> = [
  ['abc', 'xxabcxx', 'match abc'],
  ['^abc', 'xxabc', 'nomatch'],
  ['^/api/(\\w+)/(\\d+)$', '/api/users/42', 'match /api/users/42|users|42'],
  ['a.c', 'a\nc abc', 'match abc'],
  ['(?s)a.c', 'a\nc', 'match a\nc'],
  ['[a-c]+', 'xxbcaby', 'match bcab'],
  ['[^a-c]+', 'abcxyzabc', 'match xyz'],
  ['\\d{2,3}', '1 12345', 'match 123'],
  ['\\d{2,3}?', '12345', 'match 12'],
  ['a{3}', 'aaaa', 'match aaa'],
  ['a{2,}', 'aaaaa', 'match aaaaa'],
  ['(a|ab)(c|bcd)', 'abcd', 'match abcd|a|bcd'],
  ['(a+)(b*)', 'aaab', 'match aaab|aaa|b'],
  ['(a+?)(a*)', 'aaa', 'match aaa|a|aa'],
  ['x*', 'abc', 'match '],
  ['(?i)hello', 'say HeLLo', 'match HeLLo'],
  ['(?i)[a-c]+', 'xABcx', 'match ABc'],
  ['a(?i:b)c', 'aBc aBC', 'match aBc'],
  ['\\bfoo\\b', 'afoo foo', 'match foo'],
  ['\\Bfoo', 'afoo', 'match foo'],
  ['(?m)^b$', 'a\nb\nc', 'match b'],
  ['\\s+', 'a \t b', 'match  \t '],
  ['[\\w.-]+@[\\w.-]+', 'mail: a.b-c@x.org!', 'match a.b-c@x.org'],
  ['(?P<year>\\d{4})-(\\d{2})', 'on 2024-05-01', 'match 2024-05|2024|05'],
  ['(a)|(b)', 'b', 'match b||b'],
  ['\\.php$', '/index.php', 'match .php'],
  ['\\x41\\x{42}', 'zAB', 'match AB'],
  ['\\Qa.b\\E', 'axb a.b', 'match a.b'],
  ['', 'abc', 'match '],
];

for (const [pattern, input, expected] of matches) {
  test(`regex ${JSON.stringify(pattern)} on ${JSON.stringify(input)}`, async () => {
    assert.deepEqual(await run(pattern, input), [200, expected]);
  });
}

const replaces: Array<[string, string, string, string]> = [
  ['^/v1/(.*)$', '/v1/users/7', '/api/v2/$1', '/api/v2/users/7'],
  ['(\\w+)@(\\w+)', 'a@b c@d', '${2}.$1', 'b.a d.c'],
  ['(?P<first>\\w+) (?P<second>\\w+)', 'hello world', '${second} ${first}', 'world hello'],
  ['a*', 'baaac', '-', '-b-c-'],
  ['o', 'foo', '0', 'f00'],
  ['x', 'abc', 'y', 'abc'],
  ['(b)', 'abc', '$$1', 'a$1c'],
  ['(b)', 'abc', '$1x', 'ac'],
];

for (const [pattern, input, template, expected] of replaces) {
  test(`regex replace ${JSON.stringify(pattern)} → ${JSON.stringify(template)} on ${JSON.stringify(input)}`, async () => {
    assert.deepEqual(await run(pattern, input, template), [200, expected]);
  });
}

const errors: Array<[string, RegExp]> = [
  ['(a', /missing \)/],
  ['a)', /unexpected \)/],
  ['[a-', /missing \] in class/],
  ['*a', /missing argument to repetition operator/],
  ['a**', /bad repetition operator/],
  ['a{1001}', /repetition count above 1000/],
  ['a{3,2}', /bad repetition range/],
  ['(?=a)', /look-around is not supported/],
  ['(a)\\1', /backreferences are not supported/],
  ['\\pL', /Unicode classes are not supported/],
  ['[z-a]', /bad class range/],
];

for (const [pattern, expected] of errors) {
  test(`regex rejects ${JSON.stringify(pattern)}`, async () => {
    const [status, body] = await run(pattern, 'x');
    assert.equal(status, 400);
    assert.match(body, expected);
  });
}

test('regex matching stays linear on a pattern that makes backtracking engines explode', async () => {
  // (a*)*b on "aaaa…a" takes exponential time in a backtracking engine; the Pike VM is O(n·m).
  const input = 'a'.repeat(3000);
  const started = performance.now();
  assert.deepEqual(await run('(a*)*b', input), [200, 'nomatch']);
  assert.deepEqual(await run('(a|aa)+$', input + '!'), [200, 'nomatch']);
  assert.ok(performance.now() - started < 5000, `took ${Math.round(performance.now() - started)} ms`);
});
