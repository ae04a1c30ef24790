/**
 * Rebuilds a plugin project when its sources change: watches `assembly/`, `spec.yaml` and
 * `package.json`, coalesces a burst of saves into one build, and never runs two builds at once
 * (a save during a build schedules one more build after it).
 */
import { watch, type FSWatcher, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { CompileService } from './compile-service.js';

/** A finished rebuild. */
export interface BuildEvent {
  /** The new module's bytes. */
  wasm: Uint8Array;
  /** Compile time in ms. */
  ms: number;
  /** When the save that triggered it was seen (performance.now()), for save→serve timing. */
  changedAt: number;
  /** File names whose change triggered the build. */
  files: string[];
}

/** Events: `build` (BuildEvent), `failed` ({ error, changedAt, files }), `change` (file names, when a build is scheduled). */
export class PluginWatcher extends EventEmitter {
  private readonly watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private building = false;
  private again = false;
  private changed = new Set<string>();
  private firstChangeAt = 0;
  private closed = false;

  /**
   * `debounceMs` (default 40) is how long to wait for more saves: editors write a file in
   * several steps (truncate, write, rename), and a formatter may save again right after.
   */
  constructor(
    private readonly dir: string,
    private readonly outFile: string,
    private readonly compiler: CompileService,
    private readonly debounceMs = 40,
  ) {
    super();
  }

  /** Starts watching. */
  start(): void {
    const onChange = (prefix: string) => (_event: string, file: string | Buffer | null) => {
      const name = file ? join(prefix, file.toString()) : prefix;
      if (/(^|\/)(\.|#)|~$|\.swp$/.test(name)) return; // editor temp files
      this.schedule(name);
    };
    this.watchers.push(watch(join(this.dir, 'assembly'), { recursive: true }, onChange('assembly')));
    for (const f of ['spec.yaml', 'package.json']) {
      if (existsSync(join(this.dir, f))) this.watchers.push(watch(join(this.dir, f), onChange(f)));
    }
  }

  /** Schedules a rebuild as if `file` had changed (also used by tests and the benchmark). */
  schedule(file: string): void {
    if (this.closed) return;
    if (this.changed.size === 0) this.firstChangeAt = performance.now();
    this.changed.add(file);
    if (this.building) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.build(), this.debounceMs);
  }

  /** Stops watching; a build in progress finishes but emits nothing. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
  }

  private async build(): Promise<void> {
    if (this.closed) return;
    this.building = true;
    const files = [...this.changed];
    const changedAt = this.firstChangeAt;
    this.changed.clear();
    this.emit('change', files);
    try {
      const r = await this.compiler.compile(this.dir, this.outFile);
      if (!this.closed) this.emit('build', { wasm: readFileSync(r.outFile), ms: r.ms, changedAt, files } satisfies BuildEvent);
    } catch (error) {
      if (!this.closed) this.emit('failed', { error, changedAt, files });
    } finally {
      this.building = false;
      if (this.again && !this.closed) {
        this.again = false;
        this.timer = setTimeout(() => void this.build(), this.debounceMs);
      }
    }
  }
}
