/**
 * Registry credentials, found the way docker and oras find them: explicit options, then the
 * environment, then the docker config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`):
 * `credHelpers[host]`, `credsStore`, `auths[host]`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialError } from '../errors.js';

/** A credential for one registry. Empty fields mean "not given". */
export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken` in the docker config), exchanged at the token realm. */
  identityToken?: string;
  /** A ready bearer token (`registrytoken`), sent as is. */
  registryToken?: string;
}

/** Resolves the credential for a registry host (`host[:port]`); undefined means anonymous. */
export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

/** A fixed credential, or a provider; what option `credentials` accepts everywhere. */
export type CredentialSource = Credential | CredentialProvider;

/** Environment variables read by {@link defaultCredentialProvider}. */
export const CREDENTIAL_ENV = { username: 'HIGRESS_PLUGIN_REGISTRY_USERNAME', password: 'HIGRESS_PLUGIN_REGISTRY_PASSWORD' } as const;

/** Options of {@link dockerConfigProvider}. */
export interface DockerConfigOptions {
  /** Path of config.json; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  configFile?: string;
  /** Environment for credential helpers (PATH lookup); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Default docker config path for `env`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(homedir(), '.docker', 'config.json');
}

/** Keys a docker config may use for `registry` (docker writes Docker Hub as its v1 URL). */
function configKeys(registry: string): string[] {
  if (registry === 'registry-1.docker.io') return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

function lookup<T>(map: Record<string, T> | undefined, registry: string): T | undefined {
  if (!map) return undefined;
  for (const k of configKeys(registry)) if (map[k] !== undefined) return map[k];
  for (const [k, v] of Object.entries(map)) if (k.replace(/^https?:\/\//, '').replace(/\/.*$/, '') === registry) return v;
  return undefined;
}

/** Reads credentials from a docker config file; a missing file means no credentials. */
export function dockerConfigProvider(options: DockerConfigOptions = {}): CredentialProvider {
  const env = options.env ?? process.env;
  return async (registry) => {
    const file = options.configFile ?? dockerConfigPath(env);
    if (!existsSync(file)) return undefined;
    let config: DockerConfig;
    try {
      config = JSON.parse(readFileSync(file, 'utf8')) as DockerConfig;
    } catch (err) {
      throw new CredentialError(`cannot read docker config ${file}: ${(err as Error).message}`, { cause: err });
    }
    const helper = lookup(config.credHelpers, registry) ?? config.credsStore;
    if (helper) {
      const cred = await runCredentialHelper(helper, registry, env);
      if (cred) return cred;
    }
    const entry = lookup(config.auths, registry);
    if (!entry) return undefined;
    const cred: Credential = {};
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new CredentialError(`docker config ${file}: auths["${registry}"].auth is not base64("user:password")`);
      cred.username = decoded.slice(0, colon);
      cred.password = decoded.slice(colon + 1);
    }
    if (entry.username) cred.username = entry.username;
    if (entry.password) cred.password = entry.password;
    if (entry.identitytoken) cred.identityToken = entry.identitytoken;
    if (entry.registrytoken) cred.registryToken = entry.registrytoken;
    return Object.keys(cred).length ? cred : undefined;
  };
}

/**
 * Runs `docker-credential-<helper> get` with the server on stdin (docker-credential-helpers
 * protocol). "credentials not found" answers mean no credential, any other failure throws.
 */
export function runCredentialHelper(helper: string, registry: string, env: NodeJS.ProcessEnv = process.env): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new CredentialError(`credential helper ${program} could not run: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code !== 0) {
        if (/credentials not found/i.test(out + err)) return resolve(undefined);
        return reject(new CredentialError(`credential helper ${program} failed (exit ${code}): ${(out + err).trim()}`));
      }
      try {
        const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
        // docker's convention: Username "<token>" means Secret is an identity token.
        if (parsed.Username === '<token>') return resolve({ identityToken: parsed.Secret });
        resolve({ username: parsed.Username, password: parsed.Secret });
      } catch (e) {
        reject(new CredentialError(`credential helper ${program} printed invalid JSON`, { cause: e }));
      }
    });
    // A helper may exit without reading stdin; its exit status tells what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(registry);
  });
}

/** Credentials from {@link CREDENTIAL_ENV}; applies to every registry. */
export function envCredential(env: NodeJS.ProcessEnv = process.env): Credential | undefined {
  const username = env[CREDENTIAL_ENV.username];
  const password = env[CREDENTIAL_ENV.password];
  return username || password ? { username, password } : undefined;
}

/**
 * The default chain: the environment ({@link CREDENTIAL_ENV}), then the docker config.
 * `explicit` (from `-u/-p`) wins over both when given.
 */
export function defaultCredentialProvider(explicit?: Credential, options: DockerConfigOptions = {}): CredentialProvider {
  const docker = dockerConfigProvider(options);
  return async (registry) => {
    if (explicit && (explicit.username || explicit.password || explicit.identityToken || explicit.registryToken)) return explicit;
    return envCredential(options.env) ?? (await docker(registry));
  };
}

/** Normalises a {@link CredentialSource}; undefined → {@link defaultCredentialProvider}. */
export function toProvider(source: CredentialSource | undefined): CredentialProvider {
  if (source === undefined) return defaultCredentialProvider();
  if (typeof source === 'function') return source;
  return async () => source;
}
