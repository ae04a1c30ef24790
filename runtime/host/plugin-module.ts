/**
 * A compiled plugin module: validated imports, detected ABI version, export list. Compiled once;
 * every VM of the plugin is instantiated from it.
 */
import { ABI, type AbiVersion } from '../../spec/index.js';
import { PluginLoadError } from './errors.js';
import { capMemory } from './wasm-binary.js';
import { Wasm, type WasmModule, type ImportDescriptor } from './wasm-api.js';

const HOST_FUNCTIONS = new Set(ABI.hostFunctions.map((f) => f.name));
const ENV_STUBS = new Set(ABI.envStubs.map((f) => f.name));
const WASI_FUNCTIONS = new Set(ABI.wasiFunctions.map((f) => f.name));
const WASI_MODULES = new Set(ABI.wasiModules);

/** Why an import is not provided, or undefined when it is. */
function importProblem(imp: ImportDescriptor): string | undefined {
  if (imp.kind !== 'function') return `${imp.kind} imports are not provided`;
  if (imp.module === ABI.hostModule) {
    if (HOST_FUNCTIONS.has(imp.name) || ENV_STUBS.has(imp.name)) return undefined;
    return 'not a proxy-wasm host function';
  }
  if (WASI_MODULES.has(imp.module)) {
    if (WASI_FUNCTIONS.has(imp.name)) return undefined;
    return 'not in the WASI subset proxy-wasm hosts provide';
  }
  return 'unknown import module';
}

/** A validated, compiled proxy-wasm module. */
export class PluginModule {
  /** ABI version from the `proxy_abi_version_*` marker export (the newest if several). */
  readonly abiVersion: AbiVersion;
  /** Imports as `module.name`. */
  readonly imports: string[];
  /** Export names. */
  readonly exports: string[];
  /** Where the bytes came from (path or URL), for messages; default "<bytes>". */
  readonly source: string;
  /** Name of the allocator export the host uses (`malloc` first, as cpp-host does). */
  readonly allocator: string;
  private readonly exportSet: Set<string>;
  private readonly capped = new Map<number, WasmModule>();

  private constructor(readonly module: WasmModule, private readonly bytes: Uint8Array, source: string) {
    this.source = source;
    this.imports = Wasm.Module.imports(module).map((i) => `${i.module}.${i.name}`);
    const exps = Wasm.Module.exports(module);
    this.exports = exps.map((e) => e.name);
    this.exportSet = new Set(this.exports);
    for (const imp of Wasm.Module.imports(module)) {
      const problem = importProblem(imp);
      if (problem) {
        throw new PluginLoadError('HP_UNKNOWN_IMPORT', `${source} imports ${imp.module}.${imp.name}, which this host does not provide (${problem})`);
      }
    }
    let abi: AbiVersion | undefined;
    for (const [marker, version] of Object.entries(ABI.abiVersions)) {
      if (this.exportSet.has(marker) && (!abi || version > abi)) abi = version;
    }
    if (!abi) {
      throw new PluginLoadError('HP_UNKNOWN_ABI', `${source} exports no proxy_abi_version_* marker (expected one of ${Object.keys(ABI.abiVersions).join(', ')})`);
    }
    this.abiVersion = abi;
    if (!exps.some((e) => e.name === 'memory' && e.kind === 'memory')) {
      throw new PluginLoadError('HP_MISSING_EXPORT', `${source} does not export its memory as "memory"`);
    }
    const alloc = ABI.allocatorExports.find((n) => this.exportSet.has(n));
    if (!alloc) {
      throw new PluginLoadError('HP_MISSING_EXPORT', `${source} exports no allocator (${ABI.allocatorExports.join(' or ')})`);
    }
    this.allocator = alloc;
  }

  /**
   * Compiles and validates `bytes`. Rejects with a {@link PluginLoadError}: `HP_INVALID_MODULE`
   * (not wasm), `HP_UNKNOWN_IMPORT` (naming the import), `HP_UNKNOWN_ABI`, `HP_MISSING_EXPORT`.
   * `source` (a path or URL) only appears in messages.
   */
  static async compile(bytes: Uint8Array, source = '<bytes>'): Promise<PluginModule> {
    let module: WasmModule;
    try {
      module = await Wasm.compile(bytes);
    } catch (err) {
      throw new PluginLoadError('HP_INVALID_MODULE', `${source} is not a valid wasm module: ${(err as Error).message}`, { cause: err });
    }
    return new PluginModule(module, bytes, source);
  }

  /** True when the module exports `name`. */
  has(name: string): boolean { return this.exportSet.has(name); }

  /** The module with its memory maximum lowered to `maxBytes` (compiled once per cap, cached;
   * compiled synchronously here unless {@link prepareMemoryCap} ran first). */
  withMemoryCap(maxBytes: number): WasmModule {
    const key = Math.ceil(maxBytes / 65536);
    let m = this.capped.get(key);
    if (!m) {
      const patched = capMemory(this.bytes, maxBytes);
      m = patched === this.bytes ? this.module : new Wasm.Module(patched);
      this.capped.set(key, m);
    }
    return m;
  }

  /** Compiles the capped module off the main path (async), so creating VMs never blocks on it. */
  async prepareMemoryCap(maxBytes: number): Promise<void> {
    const key = Math.ceil(maxBytes / 65536);
    if (this.capped.has(key)) return;
    const patched = capMemory(this.bytes, maxBytes);
    const m = patched === this.bytes ? this.module : await Wasm.compile(patched);
    if (!this.capped.has(key)) this.capped.set(key, m);
  }
}
