/** Shared helpers of the OCI tests: the mini fixture plugin compiled once per process. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePlugin } from '../../cli/compile.js';
import { PACKAGE_ROOT } from '../../spec/index.js';

/** Folder of the raw-AssemblyScript fixture plugin project. */
export const MINI_DIR = join(PACKAGE_ROOT, 'test', 'oci', 'fixtures', 'mini');

let mini: Promise<Buffer> | undefined;

/** The fixture plugin compiled (release) into a temp dir; compiled once per test process. */
export function miniWasm(): Promise<Buffer> {
  mini ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'hp-mini-')), 'plugin.wasm');
    await compilePlugin({ dir: MINI_DIR, outFile: out });
    return readFileSync(out);
  })();
  return mini;
}

/** A fresh temp dir. */
export function tempDir(prefix = 'hp-oci-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
