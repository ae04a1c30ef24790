import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request, response } from './helpers.js';

const wasm = exampleWasm('key-rate-limit');
const config = { limit_by_header: 'x-ca-key', limit_keys: [{ key: 102234, query_per_second: 2 }, { key: '308239', query_per_minute: 3 }] };
// Start mid-second so a window boundary does not fall inside a test step.
const start = 1_700_000_000_000_000_000n + 100_000_000n;

async function hit(emu: Emulator, key?: string) {
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/', 'example.com', key ? [['x-ca-key', key]] : []), { endOfStream: true });
  if (!s.localResponse) await s.responseHeaders(response(200), { endOfStream: true });
  s.finish();
  return s;
}
const hdr = (s: Awaited<ReturnType<typeof hit>>, name: string) =>
  s.localResponse ? s.localResponse.headers.find(([k]) => k === name)?.[1] : s.responseHeader(name);

test('key-rate-limit allows the budget per window, then answers 429 with x-ratelimit headers', async () => {
  const emu = await Emulator.load(wasm, { configuration: config, startTimeNs: start });
  const a = await hit(emu, '102234');
  assert.equal(a.localResponse, undefined);
  assert.equal(hdr(a, 'x-ratelimit-limit'), '2');
  assert.equal(hdr(a, 'x-ratelimit-remaining'), '1');
  assert.equal(hdr(await hit(emu, '102234'), 'x-ratelimit-remaining'), '0');
  const limited = await hit(emu, '102234');
  assert.equal(limited.localResponse?.status, 429);
  assert.equal(hdr(limited, 'x-ratelimit-limit'), '2');
  assert.equal(hdr(limited, 'x-ratelimit-remaining'), '0');
  assert.equal(hdr(limited, 'retry-after'), '1');
  // next second: a fresh budget
  emu.advanceTime(1000);
  assert.equal((await hit(emu, '102234')).localResponse, undefined);
});

test('key-rate-limit counts keys separately and leaves unknown keys alone', async () => {
  const emu = await Emulator.load(wasm, { configuration: config, startTimeNs: start });
  for (let i = 0; i < 3; i++) assert.equal((await hit(emu, '308239')).localResponse, undefined);
  assert.equal((await hit(emu, '308239')).localResponse?.status, 429);
  assert.equal((await hit(emu, '102234')).localResponse, undefined);
  for (let i = 0; i < 10; i++) assert.equal((await hit(emu, 'unknown')).localResponse, undefined);
  assert.equal((await hit(emu)).localResponse, undefined);
});

test('key-rate-limit shares one budget between VMs through shared data, refilled by the tick', async () => {
  const a = await Emulator.load(wasm, { configuration: config, startTimeNs: start });
  const b = await Emulator.load(wasm, { configuration: config, startTimeNs: start, shared: a.sharedData });
  assert.equal(a.tickPeriodMs, 1000);
  assert.equal((await hit(a, '102234')).localResponse, undefined);
  assert.equal((await hit(b, '102234')).localResponse, undefined);
  assert.equal((await hit(a, '102234')).localResponse?.status, 429);
  assert.equal((await hit(b, '102234')).localResponse?.status, 429);
  // The tick (fired by advancing the clock) refills the shared bucket for the new window.
  a.advanceTime(1000);
  const stored = a.sharedData.get([...sharedKeys(a)][0]!);
  assert.match(Buffer.from(stored!.value).toString(), /:2$/);
  b.advanceTime(1000);
  assert.equal((await hit(b, '102234')).localResponse, undefined);
});

function sharedKeys(emu: Emulator): string[] {
  const keys: string[] = [];
  for (const k of ['102234', '308239']) {
    for (const candidate of (emu.sharedData as unknown as { keys?: () => Iterable<string> }).keys?.() ?? []) if (candidate.endsWith('/' + k)) keys.push(candidate);
  }
  return keys;
}

test('key-rate-limit with a query parameter key and per-route rules', async () => {
  const emu = await Emulator.load(wasm, { startTimeNs: start, configuration: { _rules_: [
    { _match_route_: ['default/route-a'], limit_by_param: 'apikey', limit_keys: [{ key: 'k', query_per_second: 1 }] },
  ] } });
  const send = async (route: string) => {
    const s = emu.stream({ routeName: route });
    await s.requestHeaders(request('GET', '/x?apikey=k'), { endOfStream: true });
    s.finish();
    return s.localResponse?.status ?? 200;
  };
  assert.equal(await send('default/route-a'), 200);
  assert.equal(await send('default/route-a'), 429);
  assert.equal(await send('default/route-b'), 200);
});

test('key-rate-limit refuses configs without a key source or with two windows', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { limit_keys: [{ key: 'a', query_per_second: 1 }] } }), /exactly one of limit_by_header and limit_by_param/);
  await assert.rejects(Emulator.load(wasm, { configuration: { limit_by_header: 'x', limit_keys: [{ key: 'a', query_per_second: 1, query_per_day: 5 }] } }),
    /limit_keys\[0\]: exactly one of query_per_second/);
});
