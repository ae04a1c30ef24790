// A password written into a plugin URL (`oci://user:pass@host/...`) is never repeated by the
// OCI client's errors, whatever goes wrong: a bad reference, an unreachable registry, or a
// registry error answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseReference } from '../../runtime/oci/reference.js';
import { fetchPlugin } from '../../runtime/oci/plugin-fetcher.js';
import { ErrorResponse, OciError, RegistryUnreachableError, redactUserinfo } from '../../runtime/oci/errors.js';
import { tempDir } from '../faults/harness.js';

const PASSWORD = 'S3cret-in-url';

function noPassword(text: string, where: string): void {
  assert.equal(text.includes(PASSWORD), false, `${where} repeats the password: ${text}`);
}

test('an invalid reference with a password in it is reported without the password', () => {
  assert.throws(() => parseReference(`oci://user:${PASSWORD}@127.0.0.1:1/plugins/Bad:1.0.0`), (err: Error) => {
    assert.ok(err instanceof OciError);
    noPassword(err.message, 'message');
    noPassword(String(err.stack), 'stack');
    return true;
  });
});

test('an unreachable registry named in a URL with credentials is reported without them', async () => {
  // A port nothing listens on: bind then close.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const dir = await tempDir('redact-');
  try {
    await assert.rejects(fetchPlugin(`http://user:${PASSWORD}@127.0.0.1:${port}/plugin.wasm`, { cacheDir: dir.dir }), (err: Error) => {
      noPassword(err.message, 'message');
      return true;
    });
  } finally {
    await dir.remove();
  }
  const err = new RegistryUnreachableError(`http://user:${PASSWORD}@127.0.0.1:${port}/v2/`, new Error('connect ECONNREFUSED'));
  noPassword(err.message, 'unreachable message');
  assert.match(err.message, /http:\/\/\*\*\*@127\.0\.0\.1/);
});

test('a registry error answer for a URL with credentials keeps the URL but not the credentials', () => {
  const err = new ErrorResponse('GET', `https://u:${PASSWORD}@registry.example/v2/a/manifests/1`, 401, [{ code: 'UNAUTHORIZED' }]);
  noPassword(err.message, 'message');
  noPassword(err.url, 'url field');
  assert.equal(err.url, 'https://***@registry.example/v2/a/manifests/1');
  assert.equal(redactUserinfo('see oci://a:b@h/x and http://h/y'), 'see oci://***@h/x and http://h/y');
});
