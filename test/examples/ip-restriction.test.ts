import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request } from './helpers.js';

const wasm = exampleWasm('ip-restriction');

async function from(emu: Emulator, sourceAddress: string, headers: Array<[string, string]> = []) {
  const s = emu.stream({ sourceAddress, sourcePort: 40000 });
  await s.requestHeaders(request('GET', '/', 'example.com', headers), { endOfStream: true });
  s.finish();
  return s.localResponse?.status ?? 200;
}

test('ip-restriction allow list admits listed addresses and CIDR ranges, IPv4 and IPv6', async () => {
  const emu = await Emulator.load(wasm, { configuration: { allow: ['10.0.0.1', '192.168.0.0/16', '2001:db8::/32', '::1'] } });
  assert.equal(await from(emu, '10.0.0.1'), 200);
  assert.equal(await from(emu, '192.168.37.4'), 200);
  assert.equal(await from(emu, '2001:db8:1::5'), 200);
  assert.equal(await from(emu, '::1'), 200);
  assert.equal(await from(emu, '10.0.0.2'), 403);
  assert.equal(await from(emu, '192.169.0.1'), 403);
  assert.equal(await from(emu, '2001:db9::1'), 403);
});

test('ip-restriction deny list refuses listed addresses with the JSON message', async () => {
  const emu = await Emulator.load(wasm, { configuration: { deny: ['10.10.10.0/24', 'fe80::/10'], status: 451 } });
  const s = emu.stream({ sourceAddress: '10.10.10.7', sourcePort: 1 });
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  assert.equal(s.localResponse?.status, 451);
  assert.deepEqual(JSON.parse(Buffer.from(s.localResponse!.body).toString()), { message: 'Your IP address is blocked.' });
  assert.equal(await from(emu, 'fe80::1'), 451);
  assert.equal(await from(emu, '10.10.11.7'), 200);
});

test('ip-restriction reads the client IP from a header when configured', async () => {
  const emu = await Emulator.load(wasm, { configuration: { ip_source_type: 'header', ip_header_name: 'X-Real-IP', deny: ['1.2.3.4'], response_body: '<h1>no</h1>' } });
  const s = emu.stream({ sourceAddress: '9.9.9.9' });
  await s.requestHeaders(request('GET', '/', 'example.com', [['x-real-ip', '1.2.3.4']]), { endOfStream: true });
  assert.equal(s.localResponse?.status, 403);
  assert.equal(Buffer.from(s.localResponse!.body).toString(), '<h1>no</h1>');
  assert.ok(s.localResponse!.headers.some(([k, v]) => k === 'content-type' && v.startsWith('text/html')));
  assert.equal(await from(emu, '1.2.3.4', [['x-real-ip', '5.6.7.8']]), 200);
});

test('ip-restriction takes the first X-Forwarded-For entry', async () => {
  const emu = await Emulator.load(wasm, { configuration: { ip_source_type: 'header', allow: ['203.0.113.0/24'] } });
  assert.equal(await from(emu, '127.0.0.1', [['x-forwarded-for', '203.0.113.9, 10.0.0.1']]), 200);
  assert.equal(await from(emu, '127.0.0.1', [['x-forwarded-for', '10.0.0.1, 203.0.113.9']]), 403);
  assert.equal(await from(emu, '127.0.0.1'), 403);
});

test('ip-restriction refuses entries that are not addresses or ranges', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { allow: ['10.0.0.0/33'] } }), /allow\[0\]: "10\.0\.0\.0\/33" is not an IP address or CIDR range/);
  await assert.rejects(Emulator.load(wasm, { configuration: { deny: ['2001:db8:::1'] } }), /deny\[0\]/);
  await assert.rejects(Emulator.load(wasm, { configuration: { ip_source_type: 'peer' } }), /ip_source_type must be origin-source or header/);
});
