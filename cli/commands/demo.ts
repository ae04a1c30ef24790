import type { Command } from 'commander';
import { startGateway } from '../../runtime/gateway/index.js';
import { DEMO_PLUGINS, demoDocuments, exampleWasm, startDemoUpstream } from '../../runtime/gateway/demo.js';
import { existsSync } from 'node:fs';

/** `higress-plugin demo`: what `npm start` runs — the gateway on an embedded config with the example plugins. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('start the local gateway on an embedded config with the example plugins in front of a demo upstream (what `npm start` runs)')
    .option('--port <port>', 'gateway port on 127.0.0.1', (v) => Number(v), 8080)
    .option('--admin-port <port>', 'admin API port on 127.0.0.1', (v) => Number(v), 15000)
    .action(async (o: { port: number; adminPort: number }) => {
      const upstream = await startDemoUpstream();
      const skip = new Set<string>();
      // A demo plugin whose example refuses the demo config is left out rather than failing the demo.
      for (;;) {
        try {
          const gw = await startGateway({ documents: () => demoDocuments(upstream.port, o.port, o.adminPort, skip), workers: 0, watch: false });
          const url = `http://127.0.0.1:${Object.values(gw.ports())[0]}`;
          const lines: string[] = [`higress-plugin demo gateway on ${url} (admin API http://127.0.0.1:${gw.adminPort}), demo upstream on 127.0.0.1:${upstream.port}`, '', 'Try:'];
          for (const p of DEMO_PLUGINS) {
            if (!existsSync(exampleWasm(p.example))) { lines.push(`  # ${p.example}: not built (npm run build)`); continue; }
            if (skip.has(p.example)) { lines.push(`  # ${p.example}: left out (its config was refused)`); continue; }
            for (const t of p.tries) lines.push(`  ${t.replaceAll('{url}', url)}`);
          }
          lines.push(`  curl -s http://127.0.0.1:${gw.adminPort}/stats/prometheus | grep gateway_requests_total`, '', 'Access log lines (JSON) follow. Ctrl-C stops.', '');
          process.stderr.write(`${lines.join('\n')}\n`);
          const stop = () => { void gw.close().then(() => { upstream.server.close(); process.exit(0); }); };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          return;
        } catch (err) {
          const m = /plugin (\S+) rejected/.exec((err as Error).message);
          if (m && !skip.has(m[1])) { process.stderr.write(`warning: ${(err as Error).message}\n`); skip.add(m[1]); continue; }
          upstream.server.close();
          throw err;
        }
      }
    });
}
