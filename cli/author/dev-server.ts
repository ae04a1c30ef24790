/**
 * What `higress-plugin run` does: finds the plugin (project folder, .wasm file or oci:// image),
 * checks the config against its schema, starts an upstream (the echo server unless one is given)
 * and the gateway, and — for a project folder — rebuilds on save and swaps the plugin in.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CompileService } from './compile-service.js';
import { ConfigSchema, exampleConfig, readConfigOption, type PluginConfig } from './config-schema.js';
import { DevGateway, RUN_ROUTE, parseServiceOption } from './dev-gateway.js';
import { startEchoUpstream, type EchoUpstream } from './echo-upstream.js';
import { AuthorError } from './errors.js';
import { fetchImageSpec } from './image-spec.js';
import { PluginWatcher, type BuildEvent } from './plugin-watcher.js';
import { isPluginProject, loadPluginProject, readSpecFile, type PluginSpec } from './plugin-project.js';

/** Options of {@link startDevServer}; all optional. */
export interface DevServerOptions {
  /** Plugin project folder, `.wasm` file, or `oci://` reference; default the current folder. */
  target?: string;
  /** Upstream base URL; default: the built-in echo upstream. */
  upstream?: string;
  /** Gateway port; default 8080 (0 = any free port). */
  port?: number;
  /** Gateway address; default 127.0.0.1. */
  host?: string;
  /** Plugin config, inline JSON/YAML or `@file`; default spec.yaml's example, else `{}`. */
  config?: string;
  /** Plugin name (root id); default spec.yaml `info.name`, else the file or image name. */
  pluginName?: string;
  /** Rebuild and swap on save; default true for a project folder (ignored for files and images). */
  watch?: boolean;
  /** Build release modules (optimised, slower to build); default debug builds, the fast edit loop. */
  release?: boolean;
  /** Print JSON access log lines; default false. */
  accessLog?: boolean;
  /** Plugin cache folder for oci:// images; default the OCI client's. */
  cacheDir?: string;
  /** Services the plugin calls, `name[:port]=url` each; default none. */
  services?: string[];
  /** Where status lines go; default stdout. */
  print?: (line: string) => void;
}

/** A reload after a save. `servedAt - changedAt` is save → new behaviour. */
export interface ReloadEvent {
  version: number;
  files: string[];
  buildMs: number;
  swapMs: number;
  changedAt: number;
  servedAt: number;
}

type Target =
  | { kind: 'project'; dir: string }
  | { kind: 'wasm'; file: string }
  | { kind: 'oci'; ref: string };

/** A running `run`. Events: `reload` (ReloadEvent), `failed` ({ version, message }). */
export class DevServer extends EventEmitter {
  /** Version of the plugin being served (1 = the first build). */
  version = 1;
  private readonly closers: Array<() => void | Promise<void>> = [];

  private constructor(readonly gateway: DevGateway, readonly upstreamUrl: string, readonly pluginName: string) {
    super();
  }

  /** `http://host:port` of the gateway. */
  get url(): string {
    return this.gateway.url;
  }

  /** Stops watching, the gateway, the echo upstream and the compiler. */
  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c();
  }

  /** Starts everything; see {@link DevServerOptions}. Rejects with an {@link AuthorError} that says what to fix. */
  static async start(o: DevServerOptions = {}): Promise<DevServer> {
    const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
    const target = resolveTarget(o.target ?? '.');
    const closers: Array<() => void | Promise<void>> = [];
    const cleanup = async () => { for (const c of closers.reverse()) await c(); };
    try {
      // 1. The plugin, its spec.yaml and its name.
      let spec: PluginSpec | undefined;
      let specWhere = 'spec.yaml';
      let url: string;
      let name: string;
      let buildNote = '';
      let compiler: CompileService | undefined;
      let workDir = '';
      let project: ReturnType<typeof loadPluginProject> | undefined;
      if (target.kind === 'project') {
        project = loadPluginProject(target.dir);
        spec = project.spec;
        specWhere = project.specFile;
        name = o.pluginName ?? project.name;
        workDir = mkdtempSync(join(tmpdir(), 'higress-plugin-run-'));
        closers.push(() => rmSync(workDir, { recursive: true, force: true }));
        compiler = new CompileService();
        closers.push(() => compiler!.close());
        const out = join(workDir, 'v1.wasm');
        const r = await compiler.compile(project.dir, out, !o.release);
        url = pathToFileURL(out).href;
        buildNote = `${o.release ? 'release' : 'debug'} build of ${shortPath(project.entry)} in ${Math.round(r.ms)} ms, ${kb(statSync(out).size)}`;
      } else if (target.kind === 'wasm') {
        const specFile = [join(dirname(target.file), 'spec.yaml'), join(dirname(target.file), '..', 'spec.yaml')].find((f) => existsSync(f));
        if (specFile) { spec = readSpecFile(specFile); specWhere = specFile; }
        name = o.pluginName ?? spec?.info?.name ?? basename(target.file).replace(/\.wasm$/, '');
        url = pathToFileURL(target.file).href;
        buildNote = `${shortPath(target.file)}, ${kb(statSync(target.file).size)}`;
      } else {
        url = target.ref;
        try {
          spec = await fetchImageSpec(target.ref);
        } catch (err) {
          throw new AuthorError('HP_PLUGIN_LOAD_FAILED', `cannot read ${target.ref}: ${(err as Error).message}`, { cause: err });
        }
        specWhere = `${target.ref} spec.yaml`;
        name = o.pluginName ?? spec?.info?.name ?? target.ref.replace(/[@:][^/]*$/, '').split('/').pop()!;
        buildNote = target.ref;
      }

      // 2. The config, checked against the schema before anything listens.
      const schema = new ConfigSchema(spec, specWhere);
      const fromFlag = o.config !== undefined;
      // Errors name the file when the config came from one.
      const flagWhere = fromFlag && o.config!.startsWith('@') ? `--config ${o.config!.slice(1)}` : '--config';
      let config: PluginConfig = fromFlag ? readConfigOption(o.config!, '--config') : exampleConfig(spec) ?? {};
      schema.validate(config, fromFlag ? flagWhere : exampleConfig(spec) ? `the example config in ${specWhere}` : `the empty config (${specWhere} has no example; pass --config)`);
      const configNote = fromFlag ? (o.config!.startsWith('@') ? o.config!.slice(1) : '--config') : exampleConfig(spec) ? 'example from spec.yaml' : 'empty: spec.yaml has no example';

      // 3. Upstream and gateway.
      let upstream: URL;
      let upstreamNote: string;
      if (o.upstream) {
        try {
          upstream = new URL(o.upstream);
        } catch {
          throw new AuthorError('HP_BAD_OPTION', `--upstream: "${o.upstream}" is not a URL (e.g. http://127.0.0.1:3000)`);
        }
        if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') throw new AuthorError('HP_BAD_OPTION', `--upstream: use an http:// or https:// URL, not ${upstream.protocol}`);
        upstreamNote = upstream.href;
      } else {
        const echo: EchoUpstream = await startEchoUpstream();
        closers.push(() => echo.close());
        upstream = new URL(echo.url);
        upstreamNote = `${echo.url} (built-in echo: answers with the request it got, as JSON)`;
      }
      const services = (o.services ?? []).map(parseServiceOption);
      const gateway = await DevGateway.start({
        host: o.host, port: o.port, upstream, accessLog: o.accessLog, cacheDir: o.cacheDir, services,
        plugin: { name, url, config, phase: spec?.spec?.phase, priority: spec?.spec?.priority },
      });
      closers.push(() => gateway.close());

      const server = new DevServer(gateway, upstream.href, name);
      server.closers.push(...closers);
      closers.length = 0;
      const watching = target.kind === 'project' && (o.watch ?? true);
      print(`higress-plugin run: serving plugin ${name}`);
      print(`  plugin    ${buildNote}`);
      print(`  config    ${JSON.stringify(config)} (${configNote})`);
      print(`  upstream  ${upstreamNote}`);
      for (const s of services) print(`  service   outbound|${s.port}||${s.name} → ${s.url.href} (for the plugin's calls)`);
      print(`  gateway   ${gateway.url} (route ${RUN_ROUTE}: every path goes to the upstream through the plugin)`);
      print('Try:');
      print(`  curl -i ${gateway.url}/`);
      print(`  curl -i ${gateway.url}/hello -H 'content-type: application/json' -d '{"hello":"world"}'`);
      if (watching) print('Watching assembly/ and spec.yaml: save to rebuild and swap the plugin. Ctrl-C stops.');
      else print('Ctrl-C stops.');

      // 4. Rebuild on save, swap on success; keep the last good plugin otherwise.
      if (watching && project && compiler) {
        const configFile = fromFlag && o.config!.startsWith('@') ? resolve(o.config!.slice(1)) : undefined;
        let builds = 1;
        // Each build gets its own file: the gateway may still be reading the previous one.
        const watcher = new PluginWatcher(project.dir, () => compiler!.compile(project!.dir, join(workDir, `build-${++builds}.wasm`), !o.release));
        server.closers.push(() => watcher.close());
        if (configFile) watcher.watchFile(configFile, shortPath(configFile));
        watcher.on('change', (files: string[]) => print(`[run] ${files.join(', ')} changed: rebuilding…`));
        watcher.on('failed', ({ error }: { error: Error }) => {
          print(`[run] build failed; still serving version ${server.version}:\n${indent(error.message)}`);
          server.emit('failed', { version: server.version, message: error.message });
        });
        let swaps: Promise<void> = Promise.resolve();
        watcher.on('build', (b: BuildEvent) => { swaps = swaps.then(() => swapIn(b)); });
        const swapIn = async (b: BuildEvent): Promise<void> => {
          const next = server.version + 1;
          let nextConfig = config;
          try {
            const fresh = loadPluginProject(project!.dir);
            const nextSchema = new ConfigSchema(fresh.spec, fresh.specFile);
            nextConfig = fromFlag ? readConfigOption(o.config!, '--config') : exampleConfig(fresh.spec) ?? {};
            nextSchema.validate(nextConfig, fromFlag ? flagWhere : `the example config in ${fresh.specFile}`);
          } catch (err) {
            print(`[run] config check failed; still serving version ${server.version}:\n${indent((err as Error).message)}`);
            server.emit('failed', { version: server.version, message: (err as Error).message });
            return;
          }
          const started = performance.now();
          const r = await gateway.swap({ url: pathToFileURL(b.outFile).href, config: nextConfig });
          if (!r.ok) {
            print(`[run] the new plugin did not start; still serving version ${server.version}:\n${indent(r.error?.message ?? 'unknown error')}`);
            server.emit('failed', { version: server.version, message: r.error?.message ?? '' });
            return;
          }
          config = nextConfig;
          server.version = next;
          const servedAt = performance.now();
          print(`[run] rebuilt in ${Math.round(b.ms)} ms, swapped in ${Math.round(servedAt - started)} ms: serving version ${next}`);
          server.emit('reload', { version: next, files: b.files, buildMs: b.ms, swapMs: servedAt - started, changedAt: b.changedAt, servedAt } satisfies ReloadEvent);
        };
        watcher.start();
      }
      return server;
    } catch (err) {
      await cleanup();
      throw err;
    }
  }
}

/** Shorthand used by the CLI and tests. */
export function startDevServer(o: DevServerOptions = {}): Promise<DevServer> {
  return DevServer.start(o);
}

function resolveTarget(arg: string): Target {
  if (arg.startsWith('oci://')) return { kind: 'oci', ref: arg };
  const abs = resolve(arg);
  if (!existsSync(abs)) {
    // `host/repo:tag` without the scheme is a common slip: say what we expected.
    throw new AuthorError('HP_NOT_A_PLUGIN_PROJECT', `${arg} does not exist (give a plugin project folder, a .wasm file, or an oci:// reference)`);
  }
  if (statSync(abs).isFile()) {
    if (!abs.endsWith('.wasm')) throw new AuthorError('HP_NOT_A_PLUGIN_PROJECT', `${arg} is not a .wasm file`);
    return { kind: 'wasm', file: abs };
  }
  if (isPluginProject(abs)) return { kind: 'project', dir: abs };
  if (existsSync(join(abs, 'plugin.wasm'))) return { kind: 'wasm', file: join(abs, 'plugin.wasm') };
  throw new AuthorError('HP_NOT_A_PLUGIN_PROJECT',
    `${abs} is neither a plugin project (no assembly/index.ts) nor a folder with plugin.wasm (create a project with \`higress-plugin init\`)`);
}

function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}
