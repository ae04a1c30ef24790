import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm } from '../examples/helpers.js';

/**
 * Drives `n` complete streams (request headers + body, response headers + body, end) through the
 * plugin and samples its linear memory every 10 000 streams.
 */
async function drive(emu: Emulator, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 1; i <= n; i++) {
    const s = emu.stream();
    await s.requestHeaders([[':method', 'POST'], [':path', `/items/${i}?q=${i}`], [':authority', 'a.example.com'], [':scheme', 'http'], ['x-request', String(i)]]);
    await s.requestBody(`{"item":${i}}`, { endOfStream: true });
    await s.responseHeaders([[':status', '200'], ['content-type', 'text/plain']]);
    await s.responseBody(`see http://internal.svc/items/${i} for item ${i}`, { endOfStream: true });
    s.finish();
    if (i % 10_000 === 0) samples.push(emu.memoryBytes());
  }
  return samples;
}

test('plugin memory does not grow over 100,000 requests (headers, logging, rule matching)', async () => {
  const emu = await Emulator.load(exampleWasm('hello-world'), {
    logLevel: 3, // WARN: the per-request info line is checked and skipped, as in production
    configuration: { _rules_: [{ _match_domain_: ['*.example.com'], value: 'rule' }], value: 'global' },
  });
  const samples = await drive(emu, 100_000);
  assert.equal(samples.length, 10);
  // Everything after the first sample must equal it: garbage of finished streams is collected.
  assert.deepEqual(new Set(samples.slice(1)), new Set([samples[0]]), `memory samples: ${samples.join(', ')}`);
  assert.ok(samples[0]! <= 256 * 1024, `hello-world uses ${samples[0]} bytes`);
});

test('plugin memory does not grow over 100,000 requests with buffered bodies and regex rewrites', async () => {
  const emu = await Emulator.load(exampleWasm('response-body-rewrite'), {
    configuration: { rules: [{ pattern: 'http://internal\\.svc(/\\w+)', replace: 'https://api.example.com$1' }] },
  });
  const samples = await drive(emu, 100_000);
  assert.deepEqual(new Set(samples.slice(1)), new Set([samples[0]]), `memory samples: ${samples.join(', ')}`);
  assert.ok(samples[0]! <= 1024 * 1024, `response-body-rewrite uses ${samples[0]} bytes`);
});
