/**
 * Child-process side of {@link CompileService}: compiles plugins on request over IPC. asc runs
 * synchronously for most of a compile and changes the working folder, so it runs here, away from
 * the gateway's event loop; the process stays up so the compiler is loaded once.
 */
import { compilePlugin } from '../compile.js';

interface CompileRequest { id: number; dir: string; outFile?: string; debug?: boolean }

process.on('message', (msg: CompileRequest) => {
  compilePlugin({ dir: msg.dir, outFile: msg.outFile, debug: msg.debug }).then(
    (r) => process.send?.({ id: msg.id, ok: true, outFile: r.outFile, ms: r.ms }),
    (err: Error & { code?: string }) => process.send?.({ id: msg.id, ok: false, message: err.message, code: err.code }),
  );
});
process.on('disconnect', () => process.exit(0));
