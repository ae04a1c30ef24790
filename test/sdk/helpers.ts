/**
 * Builds the SDK test plugins (test/sdk/plugins/<name>) into a temp folder once per process,
 * with the same compiler and flags as every plugin (cli/compile.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePlugin } from '../../cli/compile.js';
import { PACKAGE_ROOT } from '../../spec/index.js';

const built = new Map<string, Promise<string>>();

/** Path of the release .wasm of SDK test plugin `name`, compiled on first use. */
export function sdkTestPlugin(name: string): Promise<string> {
  let p = built.get(name);
  if (!p) {
    const outFile = join(mkdtempSync(join(tmpdir(), `sdk-${name}-`)), 'plugin.wasm');
    p = compilePlugin({ dir: join(PACKAGE_ROOT, 'test', 'sdk', 'plugins', name), outFile }).then((r) => r.outFile);
    built.set(name, p);
  }
  return p;
}
