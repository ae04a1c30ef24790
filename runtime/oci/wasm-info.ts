/**
 * What a plugin module declares: its proxy-wasm ABI version marker, its imports checked
 * against what the ABI (`spec/abi.json`) and the WASI subset provide, its exports, and the
 * `producers` custom section (tool, language and SDK provenance).
 */
import { ABI } from '../../spec/index.js';

/** Facts about a module. */
export interface WasmInfo {
  size: number;
  /** ABI version from the marker export (`proxy_abi_version_0_2_1` → `0.2.1`); undefined when missing. */
  abiVersion?: string;
  imports: Array<{ module: string; name: string; kind: string }>;
  exports: Array<{ name: string; kind: string }>;
  /** Imports no host provides (neither proxy-wasm `env` nor the WASI subset), as `module.name`. */
  unknownImports: string[];
  /** `producers` section: field → [name, version][]. */
  producers: Record<string, Array<[string, string]>>;
  /** Names of the custom sections, in order (`name` means debug names are present). */
  customSections: string[];
}

const HOST_IMPORTS: ReadonlySet<string> = new Set([
  ...ABI.hostFunctions.map((f) => `${ABI.hostModule}.${f.name}`),
  ...ABI.envStubs.map((f) => `${ABI.hostModule}.${f.name}`),
  ...ABI.wasiModules.flatMap((m) => ABI.wasiFunctions.map((f) => `${m}.${f.name}`)),
]);

/** Reads a LEB128 u32 at `pos`; returns [value, next position]. */
function leb(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new RangeError('truncated LEB128');
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7;
  }
}

function readName(buf: Uint8Array, pos: number): [string, number] {
  const [len, p] = leb(buf, pos);
  return [Buffer.from(buf.buffer, buf.byteOffset + p, len).toString('utf8'), p + len];
}

/** Parses the `producers` custom section(s); tolerates malformed ones (returns what parsed). */
export function readProducers(wasm: Uint8Array): Record<string, Array<[string, string]>> {
  return scanCustomSections(wasm).producers;
}

function scanCustomSections(wasm: Uint8Array): { names: string[]; producers: Record<string, Array<[string, string]>> } {
  const out: Record<string, Array<[string, string]>> = {};
  const names: string[] = [];
  let pos = 8;
  try {
    while (pos < wasm.length) {
      const id = wasm[pos++];
      const [size, start] = leb(wasm, pos);
      const end = start + size;
      if (id === 0) {
        const [name, p0] = readName(wasm, start);
        names.push(name);
        if (name === 'producers') {
          let p = p0;
          let fields: number;
          [fields, p] = leb(wasm, p);
          for (let i = 0; i < fields; i++) {
            let field: string;
            let count: number;
            [field, p] = readName(wasm, p);
            [count, p] = leb(wasm, p);
            const list = (out[field] ??= []);
            for (let j = 0; j < count; j++) {
              let n: string;
              let v: string;
              [n, p] = readName(wasm, p);
              [v, p] = readName(wasm, p);
              list.push([n, v]);
            }
          }
        }
      }
      pos = end;
    }
  } catch {
    /* a truncated section ends the scan */
  }
  return { names, producers: out };
}

interface WasmModuleApi {
  Module: {
    new (bytes: Uint8Array): object;
    imports(m: object): Array<{ module: string; name: string; kind: string }>;
    exports(m: object): Array<{ name: string; kind: string }>;
  };
}
// The project compiles without DOM lib typings, so the WebAssembly global is typed locally.
const WA = (globalThis as unknown as { WebAssembly: WasmModuleApi }).WebAssembly;

/** Inspects a module; throws WebAssembly.CompileError when it is not valid wasm. */
export function wasmInfo(wasm: Uint8Array): WasmInfo {
  const module = new WA.Module(wasm);
  const imports = WA.Module.imports(module).map((i) => ({ module: i.module, name: i.name, kind: i.kind }));
  const exports = WA.Module.exports(module).map((e) => ({ name: e.name, kind: e.kind }));
  const marker = exports.find((e) => e.kind === 'function' && e.name in ABI.abiVersions);
  const unknownImports = imports.filter((i) => i.kind === 'function' && !HOST_IMPORTS.has(`${i.module}.${i.name}`)).map((i) => `${i.module}.${i.name}`);
  // Memory/table/global imports are not provided by proxy-wasm hosts either.
  for (const i of imports) if (i.kind !== 'function') unknownImports.push(`${i.module}.${i.name} (${i.kind})`);
  const custom = scanCustomSections(wasm);
  return {
    size: wasm.byteLength,
    abiVersion: marker ? ABI.abiVersions[marker.name] : undefined,
    imports,
    exports,
    unknownImports,
    producers: custom.producers,
    customSections: custom.names,
  };
}
