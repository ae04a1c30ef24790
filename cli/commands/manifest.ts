import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { ConfigSchema, exampleConfig, readConfigOption, type PluginConfig } from '../author/config-schema.js';
import { isPluginProject, loadPluginProject, type PluginSpec } from '../author/plugin-project.js';
import { fetchImageSpec } from '../author/image-spec.js';
import { buildWasmPlugin, normalizePhase, toYaml, type MatchRule } from '../author/wasm-plugin-manifest.js';
import { AuthorError } from '../author/errors.js';

interface ManifestOptions {
  image: string;
  config?: string;
  matchRoute: string[];
  matchDomain: string[];
  matchService: string[];
  phase?: string;
  priority?: string;
  failStrategy?: string;
  pullPolicy?: string;
  sha256?: string;
  namespace: string;
  name?: string;
  example?: boolean;
  plainHttp?: boolean;
  output?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `higress-plugin manifest`: prints a WasmPlugin resource for Higress, validated against the plugin's schema. */
export function register(program: Command): void {
  program
    .command('manifest')
    .description("print a Higress WasmPlugin manifest for the plugin image, with configs checked against the plugin's schema")
    .argument('[source]', 'plugin project folder or image reference to read spec.yaml from (default: the current folder if it is a plugin project, else --image)')
    .requiredOption('--image <ref>', 'image URL the cluster pulls, e.g. oci://registry.example.com/plugins/my-plugin:1.0.0')
    .option('--config <json|@file>', 'global config (defaultConfig), inline JSON or @file (JSON/YAML)')
    .option('--example', "use spec.yaml's example as the global config")
    .option('--match-route <routes=config>', 'rule for Higress routes (<namespace>/<name>, comma-separated) with its config; repeatable', collect, [])
    .option('--match-domain <hosts=config>', 'rule for domains (a.com, *.a.com; comma-separated) with its config; repeatable', collect, [])
    .option('--match-service <services=config>', 'rule for upstream services (fqdn[:port]; comma-separated) with its config; repeatable', collect, [])
    .option('--phase <phase>', 'AUTHN | AUTHZ | STATS | UNSPECIFIED_PHASE (default: spec.yaml spec.phase)')
    .option('--priority <n>', 'higher runs first within a phase (default: spec.yaml spec.priority)')
    .option('--fail-strategy <s>', 'FAIL_CLOSE (Higress default) | FAIL_OPEN')
    .option('--pull-policy <p>', 'IfNotPresent | Always')
    .option('--sha256 <digest>', 'pin the image manifest digest')
    .option('--namespace <ns>', 'namespace of the WasmPlugin', 'higress-system')
    .option('--name <name>', 'metadata.name (default: the plugin name)')
    .option('--plain-http', 'read spec.yaml from a registry over plain HTTP (default: only for localhost)')
    .option('-o, --output <file>', 'write the YAML to a file instead of stdout')
    .addHelpText('after', `
A rule's config is inline JSON or @file: --match-route "default/foo={\\"allow\\":[\\"a\\"]}" or
--match-route default/foo,default/bar=@foo.yaml. Rules are matched in the order given (first
match wins). With rules and no global config, defaultConfigDisable is set, so the plugin only
runs where a rule matches. With neither, spec.yaml's example becomes the global config.

Examples:
  $ higress-plugin manifest --image oci://registry.example.com/plugins/my-plugin:1.0.0 --config @config.yaml
  $ higress-plugin manifest ./my-plugin --image oci://r.example.com/my-plugin:1.0.0 \\
      --match-route default/api=@api.json --match-domain "*.example.com=@web.json" --phase AUTHN --priority 300
  $ higress-plugin manifest oci://127.0.0.1:5000/my-plugin:1.0.0 --image oci://127.0.0.1:5000/my-plugin:1.0.0 --example | kubectl apply -f -`)
    .action(async (source: string | undefined, opts: ManifestOptions) => {
      const { name, spec, where } = await loadSpec(source, opts);
      const schema = new ConfigSchema(spec, where);
      if (!schema.hasSchema) process.stderr.write(`note: ${where} declares no config schema; configs are not checked\n`);
      const rules: MatchRule[] = [
        ...opts.matchRoute.map((v) => rule('ingress', v, '--match-route')),
        ...opts.matchDomain.map((v) => rule('domain', v, '--match-domain')),
        ...opts.matchService.map((v) => rule('service', v, '--match-service')),
      ];
      let defaultConfig: PluginConfig | undefined = opts.config !== undefined ? readConfigOption(opts.config, '--config') : undefined;
      if (opts.example || (defaultConfig === undefined && rules.length === 0)) {
        defaultConfig = exampleConfig(spec);
        if (!defaultConfig && opts.example) throw new AuthorError('HP_BAD_OPTION', `--example: ${where} has no configSchema.openAPIV3Schema.example`);
        if (defaultConfig && !opts.example) process.stderr.write(`note: no --config or rules given; using the example config from ${where}\n`);
      }
      const priority = opts.priority === undefined ? undefined : Number(opts.priority);
      if (priority !== undefined && !Number.isInteger(priority)) throw new AuthorError('HP_BAD_OPTION', `--priority: "${opts.priority}" is not an integer`);
      const resource = buildWasmPlugin({
        pluginName: name,
        image: opts.image,
        namespace: opts.namespace,
        resourceName: opts.name,
        defaultConfig,
        matchRules: rules,
        phase: opts.phase === undefined ? undefined : normalizePhase(opts.phase),
        priority,
        failStrategy: opts.failStrategy,
        imagePullPolicy: opts.pullPolicy,
        sha256: opts.sha256,
        spec,
        schema,
      });
      const yaml = toYaml(resource);
      if (opts.output) writeFileSync(opts.output, yaml);
      else process.stdout.write(yaml);
    });
}

/** Reads spec.yaml from a project folder or an image; the name comes with it. */
async function loadSpec(source: string | undefined, opts: ManifestOptions): Promise<{ name: string; spec?: PluginSpec; where: string }> {
  const looksLikeRef = (s: string): boolean => s.startsWith('oci://') || (!isPluginProject(s) && /^[^/.][^/]*[.:][^/]*\//.test(s));
  if (source !== undefined && !looksLikeRef(source)) {
    const p = loadPluginProject(source);
    return { name: p.name, spec: p.spec, where: p.specFile };
  }
  if (source === undefined && isPluginProject('.')) {
    const p = loadPluginProject('.');
    return { name: p.name, spec: p.spec, where: p.specFile };
  }
  const ref = source ?? opts.image;
  const spec = await fetchImageSpec(ref, { plainHttp: opts.plainHttp });
  const name = spec?.info?.name ?? ref.replace(/^oci:\/\//, '').replace(/[@:][^/]*$/, '').split('/').pop() ?? 'plugin';
  return { name, spec, where: `${ref} spec.yaml` };
}

/** Parses `a,b=<json|@file>` into a rule of `kind`. */
function rule(kind: 'ingress' | 'domain' | 'service', value: string, flag: string): MatchRule {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new AuthorError('HP_BAD_OPTION', `${flag}: expected <names>=<json|@file>, got "${value}"`);
  const names = value.slice(0, eq).split(',').map((s) => s.trim()).filter(Boolean);
  if (kind === 'ingress') {
    for (const n of names) if (!/^[^/\s]+\/[^/\s]+$/.test(n)) throw new AuthorError('HP_BAD_OPTION', `${flag}: "${n}" is not a route name <namespace>/<name>`);
  }
  const config = readConfigOption(value.slice(eq + 1), `${flag} ${names.join(',')}`);
  return { [kind]: names, config } as MatchRule;
}
