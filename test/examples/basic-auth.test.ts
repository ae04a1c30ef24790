import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { exampleWasm, request } from './helpers.js';

const wasm = exampleWasm('basic-auth');
const config = {
  consumers: [{ credential: 'admin:123456', name: 'consumer1' }, { credential: 'guest:abc', name: 'consumer2' }],
  _rules_: [{ _match_route_: ['default/route-a'], allow: ['consumer1'] }, { _match_domain_: ['*.example.com'], allow: ['consumer2'] }],
};
const basic = (cred: string) => 'Basic ' + Buffer.from(cred).toString('base64');

async function call(emu: Emulator, auth: string | undefined, route?: string, host = 'other.org') {
  const s = emu.stream({ routeName: route });
  await s.requestHeaders(request('GET', '/test', host, auth ? [['authorization', auth]] : []), { endOfStream: true });
  s.finish();
  return s;
}

test('basic-auth lets valid credentials through and names the consumer upstream', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = await call(emu, basic('admin:123456'), 'default/route-a');
  assert.equal(s.localResponse, undefined);
  assert.equal(s.requestHeader('x-mse-consumer'), 'consumer1');
});

test('basic-auth answers 401 with WWW-Authenticate when credentials are missing or wrong', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const none = await call(emu, undefined, 'default/route-a');
  assert.equal(none.localResponse?.status, 401);
  assert.equal(Buffer.from(none.localResponse!.body).toString(), 'Request denied by Basic Auth check. No Basic Authentication information found.');
  assert.ok(none.localResponse!.headers.some(([k, v]) => k === 'www-authenticate' && v.startsWith('Basic')));
  const wrong = await call(emu, basic('admin:abc'), 'default/route-a');
  assert.equal(wrong.localResponse?.status, 401);
  assert.match(Buffer.from(wrong.localResponse!.body).toString(), /Invalid username and\/or password/);
  assert.equal((await call(emu, 'Basic !!!', 'default/route-a')).localResponse?.status, 401);
});

test('basic-auth answers 403 to a consumer outside the rule allow list', async () => {
  const emu = await Emulator.load(wasm, { configuration: config });
  const s = await call(emu, basic('guest:abc'), 'default/route-a');
  assert.equal(s.localResponse?.status, 403);
  assert.match(Buffer.from(s.localResponse!.body).toString(), /Unauthorized consumer/);
  assert.equal((await call(emu, basic('guest:abc'), undefined, 'www.example.com')).localResponse, undefined);
});

test('basic-auth with only global consumers authenticates every route for any consumer', async () => {
  const emu = await Emulator.load(wasm, { configuration: { consumers: config.consumers } });
  assert.equal((await call(emu, basic('guest:abc'))).requestHeader('x-mse-consumer'), 'consumer2');
  assert.equal((await call(emu, undefined)).localResponse?.status, 401);
});

test('basic-auth refuses repeated credentials and rules without allow', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { consumers: [{ credential: 'a:b', name: 'x' }, { credential: 'a:b', name: 'y' }] } }),
    /consumers\[1\]\.credential is repeated/);
  await assert.rejects(Emulator.load(wasm, { configuration: { consumers: config.consumers, _rules_: [{ _match_route_: ['r'] }] } }),
    /_rules_\[0\] \(_match_route_ \["r"\]\): allow is required in a rule/);
});
