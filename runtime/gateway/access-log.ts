/**
 * JSON access log: one line per finished request, written in batches (one write per event-loop
 * turn) so logging does not cost a syscall per request.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

/** One access-log entry. */
export interface AccessLogEntry {
  time: string;
  requestId: string;
  route: string;
  cluster: string;
  upstream: string;
  method: string;
  authority: string;
  path: string;
  protocol: string;
  status: number;
  durationMs: number;
  client: string;
  detail?: string;
  /** What plugins wrote to the `ai_log` property (Higress's access log prints it as `ai_log`, as the plugin wrote it). */
  ai_log?: string;
}

/** Writes entries to stdout, a file, or nowhere (`off`). */
export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;
  private readonly out?: NodeJS.WritableStream | WriteStream;

  /** `target`: `stdout` (default), `off`, or a file path (appended). */
  constructor(target = 'stdout') {
    if (target === 'off') return;
    this.out = target === 'stdout' ? process.stdout : createWriteStream(target, { flags: 'a' });
  }

  get enabled(): boolean {
    return this.out !== undefined;
  }

  write(entry: AccessLogEntry): void {
    if (!this.out) return;
    this.pending.push(JSON.stringify(entry));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.out || this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.out.write(text);
  }

  close(): void {
    this.flush();
    if (this.out && this.out !== process.stdout) (this.out as WriteStream).end();
  }
}
