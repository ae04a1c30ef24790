/**
 * Typed errors of the proxy-wasm host. Every error has a stable `code` (`HP_*`), names the
 * plugin and, for VM failures, the callback that failed and the wasm engine's message; the
 * original exception is chained as `cause`.
 */

/** Stable error codes of the host. */
export type HostErrorCode =
  /** The bytes are not a valid wasm module. */
  | 'HP_INVALID_MODULE'
  /** The module imports a function the host does not provide (named in the message). */
  | 'HP_UNKNOWN_IMPORT'
  /** No `proxy_abi_version_*` export. */
  | 'HP_UNKNOWN_ABI'
  /** No `memory` export, or no allocator (`malloc` / `proxy_on_memory_allocate`). */
  | 'HP_MISSING_EXPORT'
  /** Instantiation failed (link error, start section trap, memory too large). */
  | 'HP_INSTANTIATE_FAILED'
  /** `proxy_on_vm_start` / `proxy_on_configure` returned false or failed. */
  | 'HP_CONFIGURE_FAILED'
  /** The VM trapped (unreachable, out-of-bounds, stack overflow, abort). */
  | 'HP_VM_TRAP'
  /** The plugin called WASI `proc_exit`. */
  | 'HP_PROC_EXIT'
  /** The plugin's allocator returned a pointer outside its memory. */
  | 'HP_BAD_ALLOCATOR'
  /** Bad option passed to the host API. */
  | 'HP_BAD_OPTION';

/** Base class of every host error. */
export class HostError extends Error {
  readonly code: HostErrorCode;
  /** Plugin name (root id), when known. */
  readonly plugin: string | undefined;
  constructor(code: HostErrorCode, message: string, options?: { plugin?: string; cause?: unknown }) {
    super(options?.plugin ? `plugin "${options.plugin}": ${message}` : message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HostError';
    this.code = code;
    this.plugin = options?.plugin;
  }
}

/** A module that cannot be loaded (compile, import validation, ABI detection, instantiation). */
export class PluginLoadError extends HostError {
  constructor(code: HostErrorCode, message: string, options?: { plugin?: string; cause?: unknown }) {
    super(code, message, options);
    this.name = 'PluginLoadError';
  }
}

/** `proxy_on_vm_start` / `proxy_on_configure` refused the configuration or failed. `logs` holds
 * what the plugin logged while starting (usually the reason). */
export class PluginConfigureError extends HostError {
  readonly logs: string[];
  constructor(plugin: string, message: string, logs: string[], cause?: unknown) {
    super('HP_CONFIGURE_FAILED', logs.length ? `${message}; plugin logged: ${logs.join(' | ')}` : message, { plugin, cause });
    this.name = 'PluginConfigureError';
    this.logs = logs;
  }
}

/** A VM failure: trap, abort, `proc_exit`, garbage allocator. The VM is unusable afterwards;
 * the plugin's fail strategy decides what streams see. */
export class VmFailureError extends HostError {
  /** The export that was running (`proxy_on_request_headers`, `_start`, ...). */
  readonly callback: string;
  /** The wasm engine's message (`unreachable`, `memory access out of bounds`, `proc_exit(1)`). */
  readonly wasmMessage: string;
  constructor(code: HostErrorCode, plugin: string, callback: string, wasmMessage: string, cause?: unknown) {
    super(code, `VM failed in ${callback}: ${wasmMessage}`, { plugin, cause });
    this.name = 'VmFailureError';
    this.callback = callback;
    this.wasmMessage = wasmMessage;
  }
}

/** Thrown from WASI `proc_exit` to unwind the wasm stack; turned into a {@link VmFailureError}. */
export class ProcExitSignal extends Error {
  constructor(readonly exitCode: number) {
    super(`proc_exit(${exitCode})`);
    this.name = 'ProcExitSignal';
  }
}

/** Thrown when the plugin's allocator returns an unusable pointer; turned into a {@link VmFailureError}. */
export class BadAllocatorSignal extends Error {
  constructor(readonly ptr: number, readonly size: number, readonly memorySize: number) {
    super(`allocator returned ${ptr} for ${size} bytes (memory is ${memorySize} bytes)`);
    this.name = 'BadAllocatorSignal';
  }
}

/** Classifies an exception caught at a callback boundary into a {@link VmFailureError}. */
export function toVmFailure(plugin: string, callback: string, err: unknown): VmFailureError {
  if (err instanceof VmFailureError) return err;
  if (err instanceof ProcExitSignal) return new VmFailureError('HP_PROC_EXIT', plugin, callback, err.message, err);
  if (err instanceof BadAllocatorSignal) return new VmFailureError('HP_BAD_ALLOCATOR', plugin, callback, err.message, err);
  const message = err instanceof Error ? err.message : String(err);
  return new VmFailureError('HP_VM_TRAP', plugin, callback, message, err);
}
