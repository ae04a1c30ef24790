/**
 * Compiles plugins in a long-lived child process (see `compile-worker.ts`), so a rebuild on save
 * never stalls requests the gateway is serving in this process, and the compiler loads only once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CompileError, type CompileResult } from '../compile.js';

interface Pending { resolve(r: CompileResult): void; reject(e: Error): void }
interface CompileReply { id: number; ok: boolean; outFile?: string; ms?: number; message?: string; code?: string }

const WORKER = fileURLToPath(new URL('./compile-worker.js', import.meta.url));

/** A compiler process; start lazily with the first {@link CompileService.compile}, end with {@link CompileService.close}. */
export class CompileService {
  private child?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Compiles the plugin project in `dir` (release build unless `debug`); rejects with {@link CompileError}. */
  compile(dir: string, outFile?: string, debug = false): Promise<CompileResult> {
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise<CompileResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, dir, outFile, debug });
    });
  }

  /** Ends the compiler process; pending compiles reject. */
  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.connected) child.disconnect();
    this.failAll(new CompileError('compiler stopped'));
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    child.on('message', (m: CompileReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve({ outFile: m.outFile!, ms: m.ms! });
      else p.reject(new CompileError(m.message ?? 'compile failed'));
    });
    child.on('exit', (code) => {
      if (this.child === child) this.child = undefined;
      this.failAll(new CompileError(`compiler process exited (code ${code})`));
    });
    this.child = child;
    return child;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
