/**
 * Rebuilds a plugin project when its sources change: watches `assembly/`, `spec.yaml` and
 * `package.json`, coalesces a burst of saves into one build, and never runs two builds at once
 * (a save during a build schedules one more build after it).
 */
import { watch, type FSWatcher, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EventEmitter } from 'node:events';

/** Builds the plugin once; resolves with where the module went. */
export type BuildFn = () => Promise<{ outFile: string; ms: number }>;

/** A finished rebuild. */
export interface BuildEvent {
  /** The new module's bytes. */
  wasm: Uint8Array;
  /** Where the build wrote it. */
  outFile: string;
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
  private readonly watched = new Set<string>();
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
    private readonly buildOnce: BuildFn,
    private readonly debounceMs = 40,
  ) {
    super();
  }

  /**
   * Starts watching. Folders are watched rather than files: editors save by writing a new file
   * and renaming it over the old one, which a watch on the file itself would stop seeing.
   */
  start(): void {
    const skip = (name: string) => /(^|\/)(\.|#)|~$|\.swp$|^sed[A-Za-z0-9]{6}$|\.tmp$/.test(name);
    const watchDir = (dir: string, prefix: string): void => {
      if (this.watched.has(dir)) return;
      this.watched.add(dir);
      this.watchers.push(watch(dir, (_event, file) => {
        if (!file) return;
        const name = file.toString();
        if (skip(name)) return;
        const full = join(dir, name);
        if (existsSync(full) && statSync(full).isDirectory()) watchDir(full, join(prefix, name));
        this.schedule(join(prefix, name));
      }));
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory() && !skip(e.name)) watchDir(join(dir, e.name), join(prefix, e.name));
      }
    };
    watchDir(join(this.dir, 'assembly'), 'assembly');
    const extra = new Set(['spec.yaml', 'package.json']);
    this.watchers.push(watch(this.dir, (_event, file) => {
      if (file && extra.has(file.toString())) this.schedule(file.toString());
    }));
  }

  /** Also rebuilds when `file` (anywhere) changes, e.g. a `--config @file`. */
  watchFile(file: string, label = file): void {
    const name = basename(file);
    this.watchers.push(watch(dirname(file), (_event, f) => {
      if (f && f.toString() === name) this.schedule(label);
    }));
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
      const r = await this.buildOnce();
      if (!this.closed) this.emit('build', { wasm: readFileSync(r.outFile), outFile: r.outFile, ms: r.ms, changedAt, files } satisfies BuildEvent);
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
