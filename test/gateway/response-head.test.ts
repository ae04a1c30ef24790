import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { configDir, gateway, QUIET } from './helpers.js';

const HELLO = pathToFileURL(join(PACKAGE_ROOT, 'examples/hello-world/build/plugin.wasm')).href;

// An upstream that writes its response head byte by byte as given: mixed-case names, a value with
// bytes above 0x7f, short and long values, hop-by-hop headers and one the Connection header names.
const LONG = 'v'.repeat(300);
const HEAD = Buffer.concat([
  Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Short: ab\r\nX-Seven: 1234567\r\nX-Eight: 12345678\r\n'),
  Buffer.from('X-Latin: caf\xe9 \xff\r\n', 'latin1'),
  Buffer.from(`X-Long: ${LONG}\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok`),
]);

let upstream: net.Server;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

before(async () => {
  upstream = net.createServer((sock) => {
    let seen = '';
    sock.on('data', (d) => {
      seen += d.toString('latin1');
      // One response per request head (keep-alive: several may come on this socket).
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        sock.write(HEAD);
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  dir = await configDir();
  await dir.write('gw.yaml', `${QUIET}services:
  - { name: up.svc, endpoints: ["127.0.0.1:${port}"] }
routes:
  - { name: default/plain, path: /plain, service: up.svc }
  - { name: default/plugin, path: /plugin, service: up.svc }
plugins:
  - name: hello
    url: ${HELLO}
    configDisable: true
    rules: [{ routes: [default/plugin], config: { header: x-hello, value: hi } }]
`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await dir?.remove();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** The raw response head the gateway sends for GET `path`. */
async function rawHead(path: string): Promise<string> {
  const url = new URL(gw.url);
  const sock = net.connect(Number(url.port), url.hostname);
  sock.write(`GET ${path} HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}

for (const path of ['/plain', '/plugin']) {
  test(`upstream response head passes byte for byte, names lower-case, hop-by-hop dropped (${path})`, async () => {
    const head = await rawHead(path);
    const lines = head.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 200 OK');
    const has = (line: string) => assert.ok(lines.includes(line), `missing ${JSON.stringify(line)} in:\n${head}`);
    has('content-type: text/plain');
    has('x-short: ab');
    has('x-seven: 1234567');
    has('x-eight: 12345678');
    has('x-latin: caf\xe9 \xff');
    has(`x-long: ${LONG}`);
    has('content-length: 2');
    assert.ok(!/^keep-alive: timeout=5$/im.test(head), 'the upstream keep-alive header is not forwarded');
    if (path === '/plugin') has('x-hello: hi');
    else assert.ok(!/^x-hello:/im.test(head));
  });
}
