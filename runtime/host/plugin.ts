/**
 * A configured plugin: one VM (wasm instance + root context) per plugin, its fail strategy and
 * its counters. Streams acquire the current VM; a failed VM is replaced per FAIL_RELOAD (with
 * backoff), a VM past its memory ceiling is replaced for new streams and retired when its
 * in-flight streams end.
 */
import { LogLevel, enumName } from '../../spec/index.js';
import { HostError, PluginConfigureError, PluginLoadError, VmFailureError } from './errors.js';
import { InMemorySharedState } from './shared-state.js';
import { MetricRegistry } from './metric-registry.js';
import type { PluginModule } from './plugin-module.js';
import type { FailStrategy, HostEnvironment, PluginOptions, SharedState } from './types.js';
import { Vm, FAILED, type VmConfig, type VmOwner, type VmUser } from './vm.js';
import { utf8 } from './memory-view.js';

const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;
const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
const RELOAD_BACKOFF_START_MS = 1000;
const RELOAD_BACKOFF_MAX_MS = 60_000;

/** Process-wide defaults used when `HostEnvironment.shared` / `.metrics` are not given. */
const defaultShared = new InMemorySharedState();
const defaultMetrics = new MetricRegistry();

/** Counters a gateway exports per plugin. */
export interface PluginStats {
  /** Successful VM rebuilds after a failure (FAIL_RELOAD). */
  vmReloads: number;
  /** Rebuild attempts that failed (start-up or on_configure failed again). */
  vmReloadFailures: number;
  /** Streams refused (503) because a reload was still in its backoff window. */
  vmReloadBackoffs: number;
  /** VM failures (traps, proc_exit, bad allocator). */
  failures: number;
  /** VMs replaced because their memory passed the ceiling. */
  memoryRebuilds: number;
  /** Streams currently holding a context in one of this plugin's VMs. */
  activeStreams: number;
}

export type { VmUser };

function bytesOf(v: Uint8Array | string | undefined): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  return typeof v === 'string' ? utf8.encode(v) : v;
}

function defaultLog(level: number, plugin: string, message: string): void {
  process.stderr.write(`[${plugin}] ${enumName(LogLevel, level).toLowerCase()}: ${message}\n`);
}

export class Plugin implements VmOwner {
  readonly name: string;
  readonly failStrategy: FailStrategy;
  readonly bodyBufferLimitBytes: number;
  readonly memoryLimitBytes: number;
  /** The plugin has a `proxy_on_request_body` callback (exported, and not declared unhandled). */
  get handlesRequestBody(): boolean { return this.vm.exports.requestBody !== undefined; }
  /** The plugin has a `proxy_on_response_body` callback. */
  get handlesResponseBody(): boolean { return this.vm.exports.responseBody !== undefined; }
  readonly stats: PluginStats = { vmReloads: 0, vmReloadFailures: 0, vmReloadBackoffs: 0, failures: 0, memoryRebuilds: 0, activeStreams: 0 };
  /** The most recent VM failure, for admin views and error pages. */
  lastError: VmFailureError | undefined;
  /** The VM new streams use. */
  vm!: Vm;
  private readonly env: HostEnvironment;
  private readonly config: VmConfig;
  private readonly retired = new Set<Vm>();
  private backoffMs = RELOAD_BACKOFF_START_MS;
  private reloadAtNs = 0n;
  private capture: string[] | undefined;
  private destroyed = false;
  private idleWaiters: Array<() => void> = [];

  private constructor(readonly module: PluginModule, options: PluginOptions) {
    if (!options || typeof options.name !== 'string' || !options.name) throw new HostError('HP_BAD_OPTION', 'PluginOptions.name is required (the plugin root id)');
    const strategy = options.failStrategy ?? 'FAIL_CLOSE';
    if (!['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'].includes(strategy)) {
      throw new HostError('HP_BAD_OPTION', `PluginOptions.failStrategy must be FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD, got ${String(strategy)}`, { plugin: options.name });
    }
    for (const key of ['memoryLimitBytes', 'bodyBufferLimitBytes'] as const) {
      const v = options[key];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
        throw new HostError('HP_BAD_OPTION', `PluginOptions.${key} must be a positive number of bytes, got ${String(v)}`, { plugin: options.name });
      }
    }
    if (options.env?.metrics && !(options.env.metrics instanceof MetricRegistry)) {
      throw new HostError('HP_BAD_OPTION', 'HostEnvironment.metrics must be a MetricRegistry (the host defines and updates metrics in it)', { plugin: options.name });
    }
    this.name = options.name;
    this.failStrategy = strategy;
    this.env = options.env ?? {};
    this.memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT;
    this.bodyBufferLimitBytes = options.bodyBufferLimitBytes ?? DEFAULT_BODY_LIMIT;
    this.config = {
      facts: { name: options.name, rootId: options.rootId ?? options.name, vmId: options.vmId ?? '' },
      env: this.env,
      shared: this.env.shared ?? (defaultShared as SharedState),
      metrics: (this.env.metrics as MetricRegistry | undefined) ?? defaultMetrics,
      vmConfiguration: bytesOf(options.vmConfiguration),
      configuration: bytesOf(options.configuration),
      memoryLimitBytes: this.memoryLimitBytes,
      // Hard cap: memory.grow fails past twice the ceiling, so a runaway plugin cannot take the process down.
      memoryCapBytes: Math.min(4 * 1024 * 1024 * 1024, this.memoryLimitBytes * 2),
    };
  }

  /**
   * Instantiates `module`, runs start-up, `proxy_on_context_create(root, 0)`, `proxy_on_vm_start`
   * and `proxy_on_configure`. Rejects with {@link PluginConfigureError} (with the plugin's log
   * lines) when configuration is refused or the VM fails while starting, or {@link PluginLoadError}
   * when instantiation fails.
   */
  static async create(module: PluginModule, options: PluginOptions): Promise<Plugin> {
    const plugin = new Plugin(module, options);
    await module.prepareMemoryCap(plugin.config.memoryCapBytes);
    plugin.vm = plugin.buildVm();
    return plugin;
  }

  /** Metrics registry this plugin's VMs write to. */
  get metrics(): MetricRegistry { return this.config.metrics; }
  /** Shared data / queues this plugin's VMs use. */
  get shared(): SharedState { return this.config.shared; }
  /** Environment given at creation. */
  get environment(): HostEnvironment { return this.env; }

  /** `ready`; `failed` (VM failed, FAIL_CLOSE/FAIL_OPEN); `reloading` (FAIL_RELOAD waiting for its backoff). */
  get state(): 'ready' | 'failed' | 'reloading' {
    if (!this.vm.failure) return 'ready';
    return this.failStrategy === 'FAIL_RELOAD' ? 'reloading' : 'failed';
  }

  private nowNs(): bigint {
    return this.env.nowNs ? this.env.nowNs() : BigInt(Date.now()) * 1_000_000n;
  }

  /** Builds and configures a fresh VM; throws PluginConfigureError / PluginLoadError. */
  private buildVm(): Vm {
    const logs: string[] = [];
    this.capture = logs;
    try {
      const vm = new Vm(this.module, this.config, this);
      const fail = (what: string): never => {
        throw new PluginConfigureError(this.name, vm.failure ? vm.failure.message : what, logs, vm.failure);
      };
      vm.startUp();
      if (vm.failure) fail('start-up failed');
      const ex = vm.exports;
      if (vm.call('proxy_on_context_create', ex.contextCreate, vm.root, 0) === FAILED && vm.failure) fail('proxy_on_context_create failed');
      if (ex.vmStart) {
        const r = vm.call('proxy_on_vm_start', ex.vmStart, vm.root, this.config.vmConfiguration.length);
        if (r === FAILED || r === 0) fail('proxy_on_vm_start returned false');
      }
      if (ex.validateConfiguration) {
        const r = vm.call('proxy_validate_configuration', ex.validateConfiguration, vm.root, this.config.configuration.length);
        if (r === FAILED || r === 0) fail('proxy_validate_configuration rejected the configuration');
      }
      if (ex.configure) {
        const r = vm.call('proxy_on_configure', ex.configure, vm.root, this.config.configuration.length);
        if (r === FAILED || r === 0) fail('proxy_on_configure rejected the configuration');
      }
      vm.dropUnhandledCallbacks();
      if (vm.failure) fail('higress_plugin_callbacks failed');
      return vm;
    } finally {
      this.capture = undefined;
    }
  }

  // --- VmOwner ------------------------------------------------------------------------------

  /** @internal */
  log(level: number, message: string): void {
    this.capture?.push(message);
    if (this.env.log) this.env.log(level, this.name, message);
    else if (level >= (this.env.logLevel ?? LogLevel.INFO)) defaultLog(level, this.name, message);
  }

  /** @internal */
  vmFailed(vm: Vm, err: VmFailureError): void {
    if (this.capture) return; // failing while building: reported by buildVm
    this.stats.failures++;
    this.lastError = err;
    if (vm === this.vm && this.failStrategy === 'FAIL_RELOAD') this.reloadAtNs = this.nowNs() + BigInt(this.backoffMs) * 1_000_000n;
    // The VM's stream contexts name their users (no per-stream registry to keep up to date).
    for (const ctx of vm.contexts.list()) ctx.user?.vmFailed(vm);
  }

  // --- streams ------------------------------------------------------------------------------

  /**
   * The VM a new stream should use, or undefined when the plugin is failed (the caller applies
   * the fail strategy). Replaces a failed VM (FAIL_RELOAD, after the backoff) or one past its
   * memory ceiling first. The caller creates its stream context with `vm.newContext(port, user)`
   * to hear of the VM's failure, and calls {@link release} when the stream ends.
   */
  acquire(): Vm | undefined {
    if (this.destroyed) return undefined;
    let vm = this.vm;
    if (vm.failure) {
      if (this.failStrategy !== 'FAIL_RELOAD') return undefined;
      if (this.nowNs() < this.reloadAtNs) {
        this.stats.vmReloadBackoffs++;
        return undefined;
      }
      try {
        vm = this.buildVm();
        this.retire(this.vm);
        this.vm = vm;
        this.stats.vmReloads++;
        this.backoffMs = RELOAD_BACKOFF_START_MS;
        this.log(LogLevel.INFO, 'VM reloaded after failure');
      } catch (err) {
        this.stats.vmReloadFailures++;
        this.backoffMs = Math.min(this.backoffMs * 2, RELOAD_BACKOFF_MAX_MS);
        this.reloadAtNs = this.nowNs() + BigInt(this.backoffMs) * 1_000_000n;
        this.log(LogLevel.ERROR, `VM reload failed: ${(err as Error).message}`);
        return undefined;
      }
    } else if (vm.overLimit) {
      try {
        const fresh = this.buildVm();
        this.stats.memoryRebuilds++;
        this.log(LogLevel.WARN, `VM memory ${vm.mem.byteLength} bytes is past the ${this.memoryLimitBytes}-byte ceiling: rebuilt for new streams`);
        this.retire(vm);
        this.vm = vm = fresh;
      } catch (err) {
        this.log(LogLevel.ERROR, `VM rebuild failed: ${(err as Error).message}`);
        vm.overLimit = false;
      }
    }
    vm.activeStreams++;
    this.stats.activeStreams++;
    return vm;
  }

  /** A stream that acquired `vm` ended (its context already deleted from `vm.contexts`). */
  release(vm: Vm): void {
    vm.activeStreams--;
    this.stats.activeStreams--;
    if (vm.activeStreams === 0 && this.retired.has(vm)) {
      this.retired.delete(vm);
      void vm.shutdown();
    }
    if (this.stats.activeStreams === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private retire(vm: Vm): void {
    if (vm.activeStreams === 0) void vm.shutdown();
    else this.retired.add(vm);
  }

  /** Ends the plugin once in-flight streams end: `proxy_on_done` on the root (waiting for
   * `proxy_done` when it returns false, up to 10 s), then `proxy_on_delete`. New streams are refused. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.stats.activeStreams > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    const all = [this.vm, ...this.retired];
    this.retired.clear();
    await Promise.all(all.map((vm) => vm.shutdown()));
  }

  /** Calls `proxy_on_tick` on the root context now (emulator and tests). */
  tick(): void {
    const vm = this.vm;
    vm.call('proxy_on_tick', vm.exports.tick, vm.root);
  }

  /** Calls `proxy_on_foreign_function(root, id, args.length)` with `args` as CALL_DATA. */
  callForeignFunction(functionId: number, args: Uint8Array): void {
    const vm = this.vm;
    vm.callData = args;
    try {
      vm.call('proxy_on_foreign_function', vm.exports.foreignFunction, vm.root, functionId, args.length);
    } finally {
      vm.callData = undefined;
    }
  }
}

export { PluginLoadError };
