/** Registry flags shared by push, pull, inspect and validate: credentials and transport. */
import type { Command } from 'commander';
import { defaultCredentialProvider, type Credential } from '../../runtime/oci/auth/credentials.js';
import type { RepositoryOptions } from '../../runtime/oci/registry-client.js';
import { PackageError } from './errors.js';

/** Parsed registry flags. */
export interface RegistryFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
}

/** Adds `-u/-p/--password-stdin/--plain-http/--insecure` to a command. */
export function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('-u, --username <user>', 'registry user name (default: $HIGRESS_PLUGIN_REGISTRY_USERNAME, then the docker config)')
    .option('-p, --password <password>', 'registry password or token')
    .option('--password-stdin', 'read the password from stdin')
    .option('--plain-http', 'use plain HTTP (default only for localhost and 127.0.0.1)')
    .option('--insecure', 'use HTTPS without verifying the certificate (self-signed registries, loopback included)');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Turns the flags into {@link RepositoryOptions}: explicit credentials win over env and docker config. */
export async function repositoryOptions(flags: RegistryFlags): Promise<RepositoryOptions> {
  let password = flags.password;
  if (flags.passwordStdin) {
    if (password) throw new PackageError('HP_CLI_OPTIONS', '--password and --password-stdin are exclusive');
    password = await readStdin();
  }
  if (password && !flags.username) throw new PackageError('HP_CLI_OPTIONS', 'a password was given without --username');
  const explicit: Credential | undefined = flags.username ? { username: flags.username, password } : undefined;
  return { credentials: defaultCredentialProvider(explicit), plainHttp: flags.plainHttp ? true : undefined, insecure: flags.insecure };
}

/** A progress reporter that writes to stderr on a TTY and stays silent otherwise or in --json mode. */
export function progress(json: boolean | undefined): (line: string) => void {
  if (json || !process.stderr.isTTY) return () => undefined;
  return (line) => process.stderr.write(`\r\x1b[K${line}`);
}

/** Ends a progress line. */
export function progressDone(json: boolean | undefined): void {
  if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

/** Human size. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
