import type { Command } from 'commander';
import { startDevServer } from '../author/dev-server.js';
import { AuthorError } from '../author/errors.js';

interface RunOptions {
  upstream?: string;
  port: string;
  host: string;
  config?: string;
  pluginName?: string;
  watch?: boolean;
  release?: boolean;
  accessLog?: boolean;
  service: string[];
}

/** `higress-plugin run`: the plugin in a local gateway, rebuilt and swapped on save. */
export function register(program: Command): void {
  program
    .command('run')
    .description('serve a plugin in a local gateway on one catch-all route; rebuilds and hot-swaps it on save')
    .argument('[source]', 'plugin project folder, .wasm file, or oci:// image (default: the current folder)')
    .option('--upstream <url>', 'where requests go after the plugin (default: a built-in echo server that answers with the request as JSON)')
    .option('-p, --port <port>', 'gateway port (0 = any free port)', '8080')
    .option('--host <address>', 'gateway address', '127.0.0.1')
    .option('--config <json|@file>', "plugin config, checked against spec.yaml's schema (default: spec.yaml's example)")
    .option('--plugin-name <name>', 'plugin name / root id (default: spec.yaml info.name)')
    .option('--watch', 'rebuild and swap on save (default for a project folder)')
    .option('--no-watch', 'build once and serve that')
    .option('--release', 'build optimised modules (default: debug builds, which build faster)')
    .option('--service <name=url>', "a service the plugin calls, e.g. auth.static=http://127.0.0.1:9000 (cluster outbound|80||auth.static; name:port=url for another port); repeatable", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--access-log', 'print a JSON access log line per request')
    .addHelpText('after', `
Plugin logs print with the plugin's name. A save under assembly/ (or to spec.yaml, or to the
--config @file) rebuilds the plugin; when it builds and accepts its config, new requests get it
while requests in flight finish on the old one. When the build fails, the error is shown and the
last good plugin keeps serving.

Examples:
  $ higress-plugin run
  $ higress-plugin run ./my-plugin --config '{"message":"hi"}' --port 9000
  $ higress-plugin run dist/plugin.wasm --upstream http://127.0.0.1:3000
  $ higress-plugin run --service auth.static=http://127.0.0.1:9000
  $ higress-plugin run oci://127.0.0.1:5000/my-plugin:0.1.0 --config @prod.yaml`)
    .action(async (source: string | undefined, opts: RunOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AuthorError('HP_BAD_OPTION', `--port: "${opts.port}" is not a port number`);
      const server = await startDevServer({
        target: source, upstream: opts.upstream, port, host: opts.host, config: opts.config,
        pluginName: opts.pluginName, watch: opts.watch, release: opts.release, accessLog: opts.accessLog, services: opts.service,
      });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          process.stdout.write('\n[run] stopping\n');
          void server.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
