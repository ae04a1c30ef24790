import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Emulator } from '../../runtime/emulator/index.js';
import { sdkTestPlugin } from './helpers.js';
import { request } from '../examples/helpers.js';

let wasm = '';
before(async () => { wasm = await sdkTestPlugin('sdk-probe'); });

/** What `x-config` the probe sets for a request with these facts (undefined = plugin bypassed). */
async function configFor(configuration: object, facts: { route?: string; cluster?: string; authority?: string }): Promise<string | undefined> {
  const emu = await Emulator.load(wasm, { configuration });
  const s = emu.stream({ routeName: facts.route, clusterName: facts.cluster });
  await s.requestHeaders(request('GET', '/', facts.authority ?? 'example.com'), { endOfStream: true });
  s.finish();
  return s.requestHeader('x-config');
}

const rules = {
  name: 'global',
  _rules_: [
    { _match_route_: ['ns/route-a'], name: 'route-a' },
    { _match_route_: ['ns/route-b'], _match_service_: ['svc-b.ns.svc.cluster.local'], name: 'route-b+svc' },
    { _match_domain_: ['exact.com'], name: 'domain-exact' },
    { _match_domain_: ['*.suffix.com'], name: 'domain-suffix' },
    { _match_domain_: ['prefix.*'], name: 'domain-prefix' },
    { _match_domain_: ['port.com:8443'], name: 'domain-with-port' },
    { _match_domain_: ['[::1]'], name: 'ipv6' },
    { _match_service_: ['svc-c.static'], name: 'service' },
    { _match_service_: ['svc-d.dns:8080'], name: 'service-port' },
    { _match_route_prefix_: ['ns/api-'], name: 'route-prefix' },
    { _match_domain_: ['first.com'], name: 'first' },
    { _match_domain_: ['first.com', 'other.com'], name: 'second' },
  ],
};

const table: Array<[string, { route?: string; cluster?: string; authority?: string }, string | undefined]> = [
  ['route name matches exactly', { route: 'ns/route-a' }, 'route-a'],
  ['route name must match whole', { route: 'ns/route-a2' }, 'global'],
  ['route + service: both match', { route: 'ns/route-b', cluster: 'outbound|80||svc-b.ns.svc.cluster.local' }, 'route-b+svc'],
  ['route + service: service differs → falls through', { route: 'ns/route-b', cluster: 'outbound|80||other.ns.svc.cluster.local' }, 'global'],
  ['domain exact', { authority: 'exact.com' }, 'domain-exact'],
  ['domain exact ignores the request port', { authority: 'exact.com:8080' }, 'domain-exact'],
  ['domain exact is not a suffix match', { authority: 'www.exact.com' }, 'global'],
  ['domain suffix wildcard', { authority: 'a.suffix.com' }, 'domain-suffix'],
  ['domain suffix wildcard with port', { authority: 'a.b.suffix.com:443' }, 'domain-suffix'],
  ['domain suffix wildcard needs a subdomain', { authority: 'suffix.com' }, 'global'],
  ['domain prefix wildcard', { authority: 'prefix.org' }, 'domain-prefix'],
  ['domain prefix wildcard with port', { authority: 'prefix.net:80' }, 'domain-prefix'],
  ['domain entry with a port matches that port', { authority: 'port.com:8443' }, 'domain-with-port'],
  ['domain entry with a port ignores other ports', { authority: 'port.com:80' }, 'global'],
  ['domain entry with a port needs a port', { authority: 'port.com' }, 'global'],
  ['IPv6 authority with port', { authority: '[::1]:8080' }, 'ipv6'],
  ['IPv6 authority without port', { authority: '[::1]' }, 'ipv6'],
  ['service without port matches any port', { cluster: 'outbound|8080||svc-c.static' }, 'service'],
  ['service without port, other port', { cluster: 'outbound|80||svc-c.static' }, 'service'],
  ['service with port matches that port', { cluster: 'outbound|8080||svc-d.dns' }, 'service-port'],
  ['service with port ignores other ports', { cluster: 'outbound|80||svc-d.dns' }, 'global'],
  ['service with a subset still matches by fqdn', { cluster: 'outbound|8080|v1|svc-c.static' }, 'service'],
  ['route prefix', { route: 'ns/api-v1' }, 'route-prefix'],
  ['first matching rule wins', { authority: 'first.com' }, 'first'],
  ['a later rule matches when the first does not', { authority: 'other.com' }, 'second'],
  ['nothing matches → global config', { route: 'x/y', authority: 'nowhere.com', cluster: 'outbound|80||none' }, 'global'],
];

for (const [name, facts, expected] of table) {
  test(`rule scoping: ${name}`, async () => {
    assert.equal(await configFor(rules, facts), expected);
  });
}

test('rule scoping: no global config and no matching rule bypasses the plugin', async () => {
  const onlyRules = { _rules_: rules._rules_ };
  assert.equal(await configFor(onlyRules, { authority: 'nowhere.com' }), undefined);
  assert.equal(await configFor(onlyRules, { authority: 'exact.com' }), 'domain-exact');
});

test('rule scoping: empty configuration enables the plugin everywhere with defaults', async () => {
  assert.equal(await configFor({}, { authority: 'anything.com' }), 'default');
  const emu = await Emulator.load(wasm, { configuration: '' });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/'), { endOfStream: true });
  assert.equal(s.requestHeader('x-config'), 'default');
});

test('rule scoping: _plugin_id_ is not a global config key', async () => {
  assert.equal(await configFor({ _plugin_id_: 'p1', _rules_: rules._rules_ }, { authority: 'nowhere.com' }), undefined);
});

test('rule scoping: rule configs are parsed with the global config as base', async () => {
  const emu = await Emulator.load(wasm, { configuration: { name: 'g', extra: 'from-global', _rules_: [{ _match_domain_: ['r.com'], name: 'r' }] } });
  const s = emu.stream();
  await s.requestHeaders(request('GET', '/', 'r.com'), { endOfStream: true });
  assert.equal(s.requestHeader('x-config'), 'r');
  assert.equal(s.requestHeader('x-extra'), 'from-global');
});

test('rule scoping: a rule without any _match_ key fails configuration, naming the rule', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { _rules_: [{ _match_route_: ['a'] }, { name: 'x' }] } }),
    /_rules_\[1\]: no _match_route_, _match_domain_, _match_service_ or _match_route_prefix_/);
});

test('rule scoping: a bad field in a rule fails configuration, naming the rule and the field', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { _rules_: [{ _match_route_: ['ns/a'], name: 7 }] } }),
    /_rules_\[0\] \(_match_route_ \["ns\/a"\]\): name must be a string, got a number/);
});

test('rule scoping: _match_ keys must be arrays of strings', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: { _rules_: [{ _match_domain_: 'a.com' }] } }),
    /_rules_\[0\]: _match_domain_ must be an array, got a string/);
  await assert.rejects(Emulator.load(wasm, { configuration: { _rules_: [{ _match_route_: [1] }] } }),
    /_rules_\[0\]: _match_route_\[0\] must be a string, got a number/);
});

test('rule scoping: configuration that is not JSON fails with the offset', async () => {
  await assert.rejects(Emulator.load(wasm, { configuration: '{"name": "x",}' }), /invalid configuration: invalid JSON at offset 13: expected a string key/);
});
