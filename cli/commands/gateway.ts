import type { Command } from 'commander';
import { startGateway } from '../../runtime/gateway/index.js';

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

/** `higress-plugin gateway -c <file-or-dir> ...`: runs the local gateway until interrupted. */
export function register(program: Command): void {
  program
    .command('gateway')
    .description('run the local gateway on Kubernetes manifests (Ingress, HTTPRoute, WasmPlugin, McpBridge) or native config')
    .requiredOption('-c, --config <path>', 'config file or directory (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--workers <n>', 'worker processes (0 = serve in this process; default one per core)', int('workers'))
    .option('--port <port>', 'port of the default listener when the config defines none (default 8080)', int('port'))
    .option('--https-port <port>', 'port of the TLS listener made for Ingress tls sections (default 8443)', int('https-port'))
    .option('--address <addr>', 'bind address of default listeners (default 0.0.0.0)')
    .option('--admin-port <port>', 'admin API port on 127.0.0.1 (default 15000)', int('admin-port'))
    .option('--no-watch', 'do not reload when config files change (POST /reload still works)')
    .action(async (o: { config: string[]; workers?: number; port?: number; httpsPort?: number; address?: string; adminPort?: number; watch: boolean }) => {
      const gw = await startGateway({
        paths: o.config,
        workers: o.workers,
        watch: o.watch,
        load: { port: o.port, httpsPort: o.httpsPort, address: o.address, adminPort: o.adminPort },
      });
      const m = gw.controlPlane.model!;
      const ports = gw.ports();
      for (const l of m.listeners) process.stderr.write(`listening on ${l.tls ? 'https' : 'http'}://${l.address}:${ports[l.name] ?? l.port} (${l.name})\n`);
      process.stderr.write(`admin API on http://${m.admin.address}:${gw.adminPort} — ${m.routes.length} routes, ${m.plugins.length} plugins\n`);
      gw.controlPlane.onReload = (r) => process.stderr.write(r.ok ? `config v${r.version} applied in ${r.durationMs.toFixed(1)} ms\n` : `config rejected, still serving v${r.version}: ${r.error!.message}\n`);
      const stop = () => { void gw.close().then(() => process.exit(0)); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
