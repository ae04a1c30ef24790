/**
 * docs/gateway.md promises that its YAML examples are real configurations: every ```yaml block
 * is written to a file and loaded with the gateway's own loader (`loadConfig`: schema, references,
 * certificates; plugins are not fetched there). Placeholder PEM blocks (`...` between BEGIN/END
 * lines) are replaced by a freshly generated certificate and key, and relative certificate paths
 * (`certs/example.com.crt`) find one next to the file. Relative `file://` plugin URLs must name a
 * module that exists under the package root, where the page says the examples assume they run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../spec/index.js';
import { loadConfig } from '../../runtime/gateway/config-loader.js';
import { DEFAULT_SETTINGS } from '../../runtime/gateway/config-model.js';
import { selfSignedCert } from '../fixtures/self-signed.js';

const DOC = join(PACKAGE_ROOT, 'docs', 'gateway.md');

function yamlBlocks(md: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const re = /^```yaml\n([\s\S]*?)^```$/gm;
  for (const m of md.matchAll(re)) out.push({ line: md.slice(0, m.index).split('\n').length, text: m[1] });
  return out;
}

/** Replaces `-----BEGIN X-----\n<indent>...\n<indent>-----END X-----` with real PEM text at that indent. */
function fillPem(text: string, pem: { cert: string; key: string }): string {
  return text.replace(/^( *)-----BEGIN ([A-Z ]+)-----\n\1\.\.\.\n\1-----END \2-----$/gm, (_all, indent: string, label: string) => {
    const body = label === 'CERTIFICATE' ? pem.cert : pem.key;
    return body.trimEnd().split('\n').map((l) => indent + l).join('\n');
  });
}

async function withCerts<T>(fn: (dir: string, pem: { cert: string; key: string }) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-docs-'));
  try {
    await mkdir(join(dir, 'certs'));
    const { cert, key } = selfSignedCert(join(dir, 'certs'), 'example.com', ['DNS:*.example.com']);
    return await fn(dir, { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every yaml example in docs/gateway.md loads with the gateway config loader', async () => {
  const md = await readFile(DOC, 'utf8');
  const blocks = yamlBlocks(md);
  assert.ok(blocks.length >= 5, `expected the native, Ingress, McpBridge, HTTPRoute and WasmPlugin examples, found ${blocks.length} yaml blocks`);
  await withCerts(async (dir, pem) => {
    for (const [i, b] of blocks.entries()) {
      const file = join(dir, `block-${i + 1}.yaml`);
      await writeFile(file, fillPem(b.text, pem));
      let model;
      try {
        model = await loadConfig([file], { adminPort: 0 });
      } catch (err) {
        assert.fail(`docs/gateway.md line ${b.line}: ${(err as Error).message}`);
      }
      const setsSomething = model.routes.length + model.plugins.length > 0 || JSON.stringify(model.settings) !== JSON.stringify(DEFAULT_SETTINGS);
      assert.ok(setsSomething, `docs/gateway.md line ${b.line}: the example defines no route, no plugin and no setting`);
    }
  });
});

test('the relative file:// plugin URLs in docs/gateway.md name modules built in the package', async () => {
  const md = await readFile(DOC, 'utf8');
  const urls = new Set<string>();
  for (const b of yamlBlocks(md)) for (const m of b.text.matchAll(/\burl:\s*file:\/\/([^\s/][^\s]*)/g)) urls.add(m[1]);
  assert.ok(urls.size > 0);
  for (const rel of urls) assert.ok(existsSync(join(PACKAGE_ROOT, rel)), `${rel} does not exist under the package root (npm run build builds the examples)`);
});

test('the documented examples produce the route and cluster names the page promises', async () => {
  const md = await readFile(DOC, 'utf8');
  await withCerts(async (dir, pem) => {
    const files: string[] = [];
    for (const [i, b] of yamlBlocks(md).entries()) {
      const file = join(dir, `block-${i + 1}.yaml`);
      await writeFile(file, fillPem(b.text, pem));
      files.push(file);
    }
    const models = await Promise.all(files.map((f) => loadConfig([f], { adminPort: 0 })));
    const routes = new Set(models.flatMap((m) => m.routes.map((r) => r.name)));
    const clusters = new Set(models.flatMap((m) => m.clusters.map((c) => c.name)));
    for (const r of ['default/api', 'default/healthz', 'default/echo', 'default/split', 'default/echo-api']) assert.ok(routes.has(r), `route ${r}`);
    for (const c of ['outbound|18081||echo.default.svc.cluster.local', 'outbound|80||local-echo.static', 'outbound|443||httpbin.dns']) assert.ok(clusters.has(c), `cluster ${c}`);
    const withTls = models.find((m) => m.routes.some((r) => r.name === 'default/echo'))!;
    assert.ok(withTls.listeners.some((l) => l.name === 'https' && l.port === 8443 && l.tls?.[0].hosts.includes('api.example.com')), 'Ingress tls makes the https listener');
    assert.ok(withTls.routes.find((r) => r.name === 'default/echo')?.canary, 'the canary Ingress attaches to its primary');
    const wasm = models.flatMap((m) => m.plugins).find((p) => p.id === 'higress-system/key-auth')!;
    const documented = /receives in `on_configure`:\n\n```json\n([\s\S]*?)\n```/.exec(md)![1];
    assert.deepEqual(JSON.parse(wasm.configuration), JSON.parse(documented), 'the documented _rules_ configuration is what the plugin gets');
  });
});
