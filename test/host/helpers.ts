/**
 * Shared test helpers for the host tests: paths of the AssemblyScript test plugins built by
 * scripts/build.js, a WAT compiler (npm `wabt`) and a WAT template for hand-made plugins.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../../spec/index.js';
import assert from 'node:assert/strict';
import type { HeaderList } from '../../runtime/host/types.js';
import type { EmulatedGrpcStream } from '../../runtime/emulator/index.js';

/** Built wasm of an AssemblyScript test plugin under test/plugins/<name>. */
export function testPluginPath(name: string): string {
  return join(PACKAGE_ROOT, 'test', 'plugins', name, 'build', 'plugin.wasm');
}

export function testPluginBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(testPluginPath(name)));
}

let wabtPromise: Promise<{ parseWat(name: string, text: string, features?: Record<string, boolean>): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void } }> | undefined;

/** Compiles WAT text to wasm bytes with the npm `wabt` package. */
export async function wat(text: string): Promise<Uint8Array> {
  wabtPromise ??= (async () => {
    const mod = (await import('wabt')) as unknown as { default: () => Promise<never> };
    return mod.default();
  })();
  const wabt = await wabtPromise;
  const m = wabt.parseWat('plugin.wat', text, { bulk_memory: true, mutable_globals: true, sign_extension: true });
  try {
    return new Uint8Array(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

/** Standard request headers for a GET. */
export function getRequest(extra: HeaderList = [], path = '/'): HeaderList {
  return [[':method', 'GET'], [':path', path], [':authority', 'example.com'], [':scheme', 'http'], ...extra];
}

/** Parts of a WAT plugin: override any export body; defaults are a well-behaved plugin. */
export interface WatPlugin {
  abi?: '0_1_0' | '0_2_0' | '0_2_1';
  /** Extra import lines. */
  imports?: string;
  /** Extra top-level fields (funcs, globals, data). */
  extra?: string;
  /** Function bodies by export name (without `proxy_on_`), replacing the default. */
  bodies?: Partial<Record<'context_create' | 'vm_start' | 'configure' | 'request_headers' | 'request_body' | 'request_trailers' |
    'response_headers' | 'response_body' | 'response_trailers' | 'tick' | 'done' | 'log' | 'delete' | 'http_call_response' | 'allocate', string>>;
  /** Name of the allocator export; default proxy_on_memory_allocate. */
  allocatorName?: string;
  /** Memory declaration; default `(memory (export "memory") 2)`. */
  memory?: string;
}

/** Builds WAT text for a small proxy-wasm plugin with a bump allocator. */
export function watPlugin(p: WatPlugin = {}): string {
  const b = p.bodies ?? {};
  const fn = (name: string, sig: string, body: string | undefined, dflt: string): string =>
    `(func (export "proxy_on_${name}") ${sig} ${body ?? dflt})`;
  return `(module
  ${p.imports ?? ''}
  ${p.memory ?? '(memory (export "memory") 2)'}
  (global $heap (mut i32) (i32.const 4096))
  (func $alloc (export "${p.allocatorName ?? 'proxy_on_memory_allocate'}") (param $n i32) (result i32)
    ${b.allocate ?? '(local $p i32) (local.set $p (global.get $heap)) (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8)))) (local.get $p)'})
  (func (export "proxy_abi_version_${p.abi ?? '0_2_1'}"))
  ${fn('context_create', '(param i32 i32)', b.context_create, '')}
  ${fn('vm_start', '(param i32 i32) (result i32)', b.vm_start, '(i32.const 1)')}
  ${fn('configure', '(param i32 i32) (result i32)', b.configure, '(i32.const 1)')}
  ${fn('request_headers', '(param i32 i32 i32) (result i32)', b.request_headers, '(i32.const 0)')}
  ${fn('request_body', '(param i32 i32 i32) (result i32)', b.request_body, '(i32.const 0)')}
  ${fn('request_trailers', '(param i32 i32) (result i32)', b.request_trailers, '(i32.const 0)')}
  ${fn('response_headers', '(param i32 i32 i32) (result i32)', b.response_headers, '(i32.const 0)')}
  ${fn('response_body', '(param i32 i32 i32) (result i32)', b.response_body, '(i32.const 0)')}
  ${fn('response_trailers', '(param i32 i32) (result i32)', b.response_trailers, '(i32.const 0)')}
  ${fn('tick', '(param i32)', b.tick, '')}
  ${fn('http_call_response', '(param i32 i32 i32 i32 i32)', b.http_call_response, '')}
  ${fn('done', '(param i32) (result i32)', b.done, '(i32.const 1)')}
  ${fn('log', '(param i32)', b.log, '')}
  ${fn('delete', '(param i32)', b.delete, '')}
  ${p.extra ?? ''}
)`;
}

/**
 * Plays the server of the demo.Echo/Chat stream both test plugins open (probe, sdk-probe): they
 * send "one", then "two" with end_stream when "echo:one" comes back, and answer their request
 * with everything they heard when the stream closes. Checks what the plugin sent on the way.
 */
export async function playChat(g: EmulatedGrpcStream): Promise<void> {
  const text = (b: Uint8Array): string => Buffer.from(b).toString();
  assert.deepEqual(g.sent.map(text), ['one']);
  assert.equal(g.localClosed, false);
  await g.initialMetadata([['x-md', 'yes']]);
  // The plugin sends from its callback.
  await g.message('echo:one');
  assert.deepEqual(g.sent.map(text), ['one', 'two']);
  assert.equal(g.localClosed, true);
  await g.message('echo:two');
  await g.trailingMetadata([['x-tr', 'done']]);
  await g.close(0);
}

/** What both test plugins answer after {@link playChat}. */
export const CHAT_HEARD = 'md:yes;msg:echo:one;msg:echo:two;tr:done;close:0:';
