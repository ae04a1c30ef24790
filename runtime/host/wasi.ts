/**
 * The WASI subset proxy-wasm hosts provide (cpp-host's FOR_ALL_WASI_FUNCTIONS), registered under
 * both `wasi_unstable` and `wasi_snapshot_preview1`: stdout/stderr become plugin logs, the
 * environment is the plugin's `vmConfig.env`, no args, no files, no preopens. `proc_exit` ends
 * the VM (a fatal plugin error outside start-up).
 */
import { randomFillSync } from 'node:crypto';
import { LogLevel, WasiErrno } from '../../spec/index.js';
import { ProcExitSignal } from './errors.js';
import { utf8 } from './memory-view.js';
import type { Vm } from './vm.js';

const { SUCCESS, BADF, FAULT, INVAL } = WasiErrno;

/** WASI functions bound to one VM. */
export function wasiFunctions(vm: Vm): Record<string, (...args: never[]) => number | void> {
  const envPairs = (): Uint8Array[] => Object.entries(vm.config.env.env ?? {}).map(([k, v]) => utf8.encode(`${k}=${v}\0`));
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      const mem = vm.mem;
      iovs >>>= 0; iovsLen >>>= 0; nwrittenPtr >>>= 0;
      if (fd !== 1 && fd !== 2) return BADF;
      if (!mem.ok(iovs, iovsLen * 8) || !mem.ok(nwrittenPtr, 4)) return FAULT;
      let text = '';
      let total = 0;
      for (let i = 0; i < iovsLen; i++) {
        const p = mem.u32(iovs + i * 8);
        const n = mem.u32(iovs + i * 8 + 4);
        if (!mem.ok(p, n)) return FAULT;
        text += mem.utf8(p, n);
        total += n;
      }
      mem.setU32(nwrittenPtr, total);
      const line = text.endsWith('\n') ? text.slice(0, -1) : text;
      if (line.length) vm.log(fd === 1 ? LogLevel.INFO : LogLevel.ERROR, line);
      return SUCCESS;
    },
    fd_read(): number { return BADF; },
    fd_seek(): number { return BADF; },
    fd_close(): number { return BADF; },
    fd_fdstat_get(fd: number, statPtr: number): number {
      statPtr >>>= 0;
      if (fd !== 0 && fd !== 1 && fd !== 2) return BADF;
      if (!vm.mem.ok(statPtr, 24)) return FAULT;
      const u8 = vm.mem.u8;
      u8.fill(0, statPtr, statPtr + 24);
      u8[statPtr] = 2; // character device
      return SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      countPtr >>>= 0; sizePtr >>>= 0;
      if (!vm.mem.ok(countPtr, 4) || !vm.mem.ok(sizePtr, 4)) return FAULT;
      const pairs = envPairs();
      vm.mem.setU32(countPtr, pairs.length);
      vm.mem.setU32(sizePtr, pairs.reduce((n, p) => n + p.length, 0));
      return SUCCESS;
    },
    environ_get(environPtr: number, bufPtr: number): number {
      environPtr >>>= 0; bufPtr >>>= 0;
      const pairs = envPairs();
      const total = pairs.reduce((n, p) => n + p.length, 0);
      if (!vm.mem.ok(environPtr, pairs.length * 4) || !vm.mem.ok(bufPtr, total)) return FAULT;
      let at = bufPtr;
      pairs.forEach((p, i) => {
        vm.mem.setU32(environPtr + i * 4, at);
        vm.mem.u8.set(p, at);
        at += p.length;
      });
      return SUCCESS;
    },
    args_sizes_get(countPtr: number, sizePtr: number): number {
      countPtr >>>= 0; sizePtr >>>= 0;
      if (!vm.mem.ok(countPtr, 4) || !vm.mem.ok(sizePtr, 4)) return FAULT;
      vm.mem.setU32(countPtr, 0);
      vm.mem.setU32(sizePtr, 0);
      return SUCCESS;
    },
    args_get(): number { return SUCCESS; },
    clock_time_get(clockId: number, _precision: bigint, timePtr: number): number {
      timePtr >>>= 0;
      if (!vm.mem.ok(timePtr, 8)) return FAULT;
      let t: bigint;
      if (clockId === 0) t = vm.config.env.nowNs ? vm.config.env.nowNs() : BigInt(Date.now()) * 1_000_000n;
      else if (clockId === 1) t = process.hrtime.bigint();
      else return INVAL;
      vm.mem.setU64(timePtr, t);
      return SUCCESS;
    },
    random_get(bufPtr: number, len: number): number {
      bufPtr >>>= 0; len >>>= 0;
      if (!vm.mem.ok(bufPtr, len)) return FAULT;
      randomFillSync(vm.mem.u8, bufPtr, len);
      return SUCCESS;
    },
    proc_exit(code: number): void {
      throw new ProcExitSignal(code);
    },
    path_open(): number { return BADF; },
    fd_prestat_get(): number { return BADF; },
    fd_prestat_dir_name(): number { return BADF; },
  };
}
