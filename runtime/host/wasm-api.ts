/**
 * The slice of the JS WebAssembly API the host uses, typed locally: the project's TypeScript
 * config has no DOM lib (where `WebAssembly` is declared) and @types/node 20 does not declare it.
 * Module-scoped on purpose, so it never clashes with a global declaration.
 */

/** A compiled module (opaque). */
export interface WasmModule { readonly __wasmModule?: never }
export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
export interface WasmInstance { readonly exports: Record<string, unknown> }
export interface ImportDescriptor { module: string; name: string; kind: 'function' | 'table' | 'memory' | 'global' | 'tag' }
export interface ExportDescriptor { name: string; kind: 'function' | 'table' | 'memory' | 'global' | 'tag' }

interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: { new (bytes: Uint8Array): WasmModule; imports(m: WasmModule): ImportDescriptor[]; exports(m: WasmModule): ExportDescriptor[] };
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  RuntimeError: new (...args: never[]) => Error;
}

/** `globalThis.WebAssembly`, typed. */
export const Wasm: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
