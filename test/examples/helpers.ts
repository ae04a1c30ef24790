/**
 * Shared helpers of the example-plugin tests: where each example's release build lives, and
 * request header lists in the shape the emulator takes.
 */
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { Wasm } from '../../runtime/host/wasm-api.js';
import { PACKAGE_ROOT } from '../../spec/index.js';
import type { HeaderList } from '../../runtime/host/types.js';

/** `examples/<name>/build/plugin.wasm` (built by `node scripts/build.js`); throws with a hint if missing. */
export function exampleWasm(name: string): string {
  const p = join(PACKAGE_ROOT, 'examples', name, 'build', 'plugin.wasm');
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`node scripts/build.js\` first`);
  return p;
}

/** Request headers for `method path` to `authority`, plus `extra`. */
export function request(method: string, path: string, authority = 'example.com', extra: HeaderList = []): HeaderList {
  return [[':method', method], [':path', path], [':authority', authority], [':scheme', 'http'], ...extra];
}

/** Response headers with `status`, plus `extra`. */
export function response(status: number, extra: HeaderList = []): HeaderList {
  return [[':status', String(status)], ...extra];
}

/** Every value of header `name` in `list`. */
export function values(list: HeaderList, name: string): string[] {
  return list.filter(([k]) => k === name).map(([, v]) => v);
}

/** `module.name` of every import of a .wasm file. */
export function moduleImports(path: string): string[] {
  return Wasm.Module.imports(new Wasm.Module(readFileSync(path))).map((i) => `${i.module}.${i.name}`);
}

/** Names of every export of a .wasm file. */
export function moduleExports(path: string): string[] {
  return Wasm.Module.exports(new Wasm.Module(readFileSync(path))).map((e) => e.name);
}
