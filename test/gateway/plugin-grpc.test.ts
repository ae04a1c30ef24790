/**
 * gRPC calls and streams from a plugin (`proxy_grpc_call`, `proxy_grpc_stream`) through the
 * gateway to a real HTTP/2 gRPC server: the probe plugin calls demo.Echo and answers the request
 * with what came back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { configDir, fetchText, gateway, PROBE_PLUGIN, QUIET } from './helpers.js';
import { eventually } from '../faults/harness.js';
import { CHAT_HEARD } from '../host/helpers.js';

let server: http2.Http2Server;
const seen: Array<{ path: string; from?: string; timeout?: string; message: string }> = [];
/** How each Chat stream ended on the server: the messages it got, and the RST_STREAM code (0 = none). */
const chats: Array<{ messages: string[]; rstCode: number }> = [];
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

/** A gRPC message frame: flag byte, 32-bit length, bytes. */
const frame = (text: string): Buffer => {
  const b = Buffer.from(text);
  const f = Buffer.alloc(5 + b.length);
  f.writeUInt32BE(b.length, 1);
  b.copy(f, 5);
  return f;
};

/** demo.Echo/Chat: initial metadata `x-md`, an echo of each message, trailers `x-tr` when the client ends. */
function chat(stream: http2.ServerHttp2Stream): void {
  const rec = { messages: [] as string[], rstCode: 0 };
  chats.push(rec);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-md': 'yes' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-tr': 'done' }));
  let pending = Buffer.alloc(0);
  stream.on('data', (c: Buffer) => {
    pending = Buffer.concat([pending, c]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const text = pending.subarray(5, 5 + pending.readUInt32BE(1)).toString();
      pending = pending.subarray(5 + text.length);
      rec.messages.push(text);
      stream.write(frame(`echo:${text}`));
    }
  });
  stream.on('end', () => stream.end());
  stream.on('close', () => { rec.rstCode = stream.rstCode ?? 0; });
  stream.on('error', () => {});
}

before(async () => {
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === '/demo.Echo/Chat') return chat(stream);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = String(headers[':path']);
      seen.push({ path, from: headers['x-from'] as string, timeout: headers['grpc-timeout'] as string, message: body.subarray(5).toString() });
      if (path === '/demo.Echo/Say') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame(`echo:${body.subarray(5).toString()}`));
      } else if (path === '/demo.Echo/Deny') {
        // Trailers-only answer.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'not%20allowed' }, { endStream: true });
      }
      // /demo.Echo/Hang: never answers.
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  dir = await configDir();
  await dir.write('gw.yaml', `${QUIET}services:
  - { name: grpc.example, port: 80, protocol: grpc, endpoints: ["127.0.0.1:${(server.address() as AddressInfo).port}"] }
  - { name: web, endpoints: ["127.0.0.1:1"] }
routes:
  - { name: default/web, path: /, service: web }
${PROBE_PLUGIN}`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await new Promise((r) => server?.close(r));
  await dir?.remove();
});

const call = (method: string) => fetchText(`${gw.url}/x`, { headers: { 'x-op': 'grpc-call', 'x-arg': method, 'x-action': '1' } });

test('a plugin\'s unary gRPC call reaches the server with its metadata and deadline; the answer comes back', async () => {
  const r = await call('Say');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'grpc:echo:hello from probe');
  assert.deepEqual(seen.at(-1), { path: '/demo.Echo/Say', from: 'probe', timeout: '2000m', message: 'hello from probe' });
});

test('a gRPC error status (trailers-only) reaches proxy_on_grpc_close with its message', async () => {
  const r = await call('Deny');
  assert.equal(r.status, 502);
  assert.equal(r.text, 'grpc status 7: not allowed');
});

test('a call past its deadline ends with DEADLINE_EXCEEDED', async () => {
  const t0 = Date.now();
  const r = await call('Hang');
  assert.equal(r.status, 502);
  assert.equal(r.text, 'grpc status 4: deadline exceeded');
  assert.ok(Date.now() - t0 >= 1900, 'after the 2 s deadline');
});

/** A request on which the probe runs `op`; it waits for the stream's end unless the op cancels it. */
const stream = (op: string) => fetchText(`${gw.url}/x`, { headers: { 'x-op': op, 'x-action': op.endsWith('cancel') ? '0' : '1' } });

test('a plugin\'s gRPC stream: messages both ways, metadata, trailers and the status reach the plugin', async () => {
  let r = await stream('grpc-stream');
  assert.equal(r.status, 200);
  assert.equal(r.text, CHAT_HEARD);
  assert.deepEqual(chats.at(-1), { messages: ['one', 'two'], rstCode: 0 });
  // Half-closed by proxy_grpc_close right after the first message.
  r = await stream('grpc-stream-close');
  assert.equal(r.text, 'md:yes;msg:echo:one;tr:done;close:0:');
  assert.deepEqual(chats.at(-1), { messages: ['one'], rstCode: 0 });
});

test('a gRPC stream the plugin cancels is reset on the server', async () => {
  const before = chats.length;
  await stream('grpc-stream-cancel');
  await eventually(() => chats.length > before && chats.at(-1)!.rstCode !== 0, 3000, 'the reset');
  assert.equal(chats.at(-1)!.rstCode, http2.constants.NGHTTP2_CANCEL);
});
