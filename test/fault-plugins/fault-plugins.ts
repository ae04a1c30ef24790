/**
 * Deliberately broken proxy-wasm plugins, written in WAT and compiled in-test with the npm
 * `wabt` package (scripts/build.js does not build this folder). Each plugin misbehaves only on
 * requests that carry the header `x-fault` (any value), so one route can first show normal
 * service and then the fault. Compiled bytes are cached per test process.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The faults a plugin can be built to provoke. */
export type FaultKind =
  | 'trap-request-headers' | 'trap-request-body' | 'trap-response-headers' | 'trap-response-body' | 'trap-log'
  | 'refuse-configure' | 'trap-configure' | 'proc-exit' | 'endless-loop' | 'memory-growth' | 'huge-allocation'
  | 'out-of-range-pointers' | 'crlf-headers' | 'crlf-response-headers' | 'invalid-utf8-headers' | 'http-call-unknown-cluster'
  | 'local-response-after-headers' | 'buffer-request-body' | 'environment-probe' | 'file-probe' | 'socket-import'
  | 'set-property-request-path' | 'read-request-path' | 'crlf-local-reply' | 'bad-status' | 'remove-pseudo-headers'
  | 'noop' | 'tag';

/** Options for plugins whose behaviour needs a value. */
export interface FaultOptions {
  /** Cluster name `http-call-unknown-cluster` calls (default `no-such-cluster`). */
  cluster?: string;
  /** Header value `tag` adds as `x-tag` on requests and responses (default `on`). */
  tag?: string;
}

/** A pointer past the end of the plugin's 2-page (128 KiB) memory. */
const BAD = '(i32.const 0xffffff00)';

const IMPORTS = `
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $replace (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $remove (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $setpairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $mapsize (param i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $getprop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $setprop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $setshared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $getshared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $setbuf (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envsizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $envget (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))`;

function esc(s: string): string {
  return [...Buffer.from(s, 'latin1')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}

/** A header map in the proxy-wasm serialization, as a WAT data string. */
function serializeMap(pairs: Array<[string, string]>): string {
  const u32 = (n: number) => Buffer.from([n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255]);
  const parts = [u32(pairs.length)];
  for (const [k, v] of pairs) parts.push(u32(Buffer.byteLength(k, 'latin1')), u32(Buffer.byteLength(v, 'latin1')));
  for (const [k, v] of pairs) parts.push(Buffer.from(`${k}\0${v}\0`, 'latin1'));
  return esc(Buffer.concat(parts).toString('latin1'));
}
const EVIL_LOCAL_HEADERS: Array<[string, string]> = [['x-crlf', 'a\r\nx-injected: yes'], ['x-bad\r\nx-injected-name', 'late']];
const EVIL_LOCAL_SIZE = 4 + EVIL_LOCAL_HEADERS.length * 8 + EVIL_LOCAL_HEADERS.reduce((n, [k, v]) => n + k.length + v.length + 2, 0);

/** Serialized header map (proxy-wasm encoding) for an http_call: :method GET, :path /, :authority a. */
function callHeaders(): string {
  const pairs: Array<[string, string]> = [[':method', 'GET'], [':path', '/'], [':authority', 'a']];
  const u32 = (n: number) => Buffer.from([n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255]);
  const parts = [u32(pairs.length)];
  for (const [k, v] of pairs) parts.push(u32(k.length), u32(v.length));
  for (const [k, v] of pairs) parts.push(Buffer.from(`${k}\0${v}\0`, 'latin1'));
  return esc(Buffer.concat(parts).toString('latin1'));
}
const CALL_HEADERS_SIZE = 4 + 3 * 8 + (7 + 1 + 3 + 1) + (5 + 1 + 1 + 1) + (10 + 1 + 1 + 1);

/** Adds a request (map 0) or response (map 2) header from two data strings. */
const addHeader = (map: number, name: [number, number], value: [number, number]) =>
  `(drop (call $add (i32.const ${map}) (i32.const ${name[0]}) (i32.const ${name[1]}) (i32.const ${value[0]}) (i32.const ${value[1]})))`;

/** Records result code `r` of call number `i` as the letter 'A'+r at 2048+i. */
const rec = (i: number, call: string) => `(i32.store8 (i32.const ${2048 + i}) (i32.add (i32.const 65) ${call}))`;

interface Bodies { [name: string]: string }

function bodiesFor(kind: FaultKind, o: FaultOptions): { bodies: Bodies; data: string } {
  const armedThen = (what: string) => `(if (global.get $armed) (then ${what}))`;
  const cluster = o.cluster ?? 'no-such-cluster';
  const tag = o.tag ?? 'on';
  // Data: 16 "x-fault"(7); 32 "x-result"(8); 48 "late"(4); 64..72 return slots; 300 call headers;
  // 400 cluster; 600 strings for header injection; 800 tag; 900 property names.
  const data = `
  (data (i32.const 16) "x-fault")
  (data (i32.const 32) "x-result")
  (data (i32.const 48) "late")
  (data (i32.const 300) "${callHeaders()}")
  (data (i32.const 400) "${esc(cluster)}")
  (data (i32.const 600) "x-crlf")
  (data (i32.const 608) "a\\0d\\0ax-injected: yes")
  (data (i32.const 640) "x-bad\\0d\\0ax-injected-name")
  (data (i32.const 680) "\\ff\\fe\\c3\\28")
  (data (i32.const 690) "x-utf8")
  (data (i32.const 700) "/etc/passwd")
  (data (i32.const 720) "request.path")
  (data (i32.const 740) "/hijacked")
  (data (i32.const 760) "x-seen-path")
  (data (i32.const 800) "${esc(tag)}")
  (data (i32.const 840) "x-tag")
  (data (i32.const 860) ":status")
  (data (i32.const 870) "abc")
  (data (i32.const 880) ":path")
  (data (i32.const 890) ":authority")
  (data (i32.const 910) ":method")
  (data (i32.const 1024) "${serializeMap(EVIL_LOCAL_HEADERS)}")`;
  const b: Bodies = {};
  switch (kind) {
    case 'trap-request-headers': b.request_headers = armedThen('unreachable'); break;
    case 'trap-request-body': b.request_body = armedThen('unreachable'); break;
    case 'trap-response-headers': b.response_headers = armedThen('unreachable'); break;
    case 'trap-response-body': b.response_body = armedThen('unreachable'); break;
    case 'trap-log': b.log = armedThen('unreachable'); break;
    case 'refuse-configure': b.configure = '(return (i32.const 0))'; break;
    case 'trap-configure': b.configure = 'unreachable'; break;
    case 'proc-exit': b.request_headers = armedThen('(call $exit (i32.const 3))'); break;
    case 'endless-loop': b.request_headers = armedThen('(loop $forever (br $forever))'); break;
    case 'memory-growth':
      // Grow 1 MiB at a time until the host's cap refuses, then die the way an allocator does.
      b.request_headers = armedThen('(block $full (loop $more (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1))) (br $more))) unreachable');
      break;
    case 'huge-allocation':
      // Ask for 2 GiB at once; report what memory.grow answered ('A' = granted, 'Z' = refused) and carry on.
      b.request_headers = armedThen(`(i32.store8 (i32.const 2048) (select (i32.const 90) (i32.const 65) (i32.eq (memory.grow (i32.const 32768)) (i32.const -1))))
        ${addHeader(0, [32, 8], [2048, 1])}`);
      break;
    case 'out-of-range-pointers': {
      const calls = [
        `(call $log (i32.const 2) ${BAD} (i32.const 10))`,
        '(call $log (i32.const 2) (i32.const 16) (i32.const -8))',
        `(call $get (i32.const 0) ${BAD} (i32.const 4) (i32.const 64) (i32.const 68))`,
        `(call $add (i32.const 0) ${BAD} (i32.const 4) (i32.const 16) (i32.const 7))`,
        `(call $add (i32.const 0) (i32.const 16) (i32.const 7) ${BAD} (i32.const 4))`,
        `(call $replace (i32.const 0) (i32.const 16) (i32.const 7) ${BAD} (i32.const 4))`,
        `(call $remove (i32.const 0) ${BAD} (i32.const 4))`,
        `(call $pairs (i32.const 0) ${BAD} ${BAD})`,
        `(call $setpairs (i32.const 0) ${BAD} (i32.const 64))`,
        `(call $mapsize (i32.const 0) ${BAD})`,
        `(call $getprop ${BAD} (i32.const 8) (i32.const 64) (i32.const 68))`,
        `(call $setprop ${BAD} (i32.const 8) (i32.const 16) (i32.const 7))`,
        `(call $local (i32.const 403) ${BAD} (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const -1))`,
        `(call $http ${BAD} (i32.const 4) (i32.const 300) (i32.const ${CALL_HEADERS_SIZE}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 64))`,
        `(call $setshared ${BAD} (i32.const 4) (i32.const 16) (i32.const 7) (i32.const 0))`,
        `(call $getshared ${BAD} (i32.const 4) (i32.const 64) (i32.const 68) (i32.const 72))`,
        `(call $metric (i32.const 0) ${BAD} (i32.const 4) (i32.const 64))`,
        `(call $now ${BAD})`,
        `(call $queue ${BAD} (i32.const 4) (i32.const 64))`,
        `(call $foreign ${BAD} (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 64) (i32.const 68))`,
      ];
      b.request_headers = armedThen(`${calls.map((c, i) => rec(i, c)).join('\n        ')}
        ${addHeader(0, [32, 8], [2048, calls.length])}`);
      break;
    }
    case 'crlf-headers':
      b.request_headers = armedThen(`${addHeader(0, [600, 6], [608, 20])} ${addHeader(0, [640, 24], [48, 4])}`);
      b.response_headers = armedThen(`${addHeader(2, [600, 6], [608, 20])} ${addHeader(2, [640, 24], [48, 4])}`);
      break;
    case 'crlf-response-headers':
      b.response_headers = armedThen(`${addHeader(2, [600, 6], [608, 20])} ${addHeader(2, [640, 24], [48, 4])}`);
      break;
    case 'invalid-utf8-headers':
      b.request_headers = armedThen(addHeader(0, [690, 6], [680, 4]));
      b.response_headers = armedThen(addHeader(2, [690, 6], [680, 4]));
      break;
    case 'http-call-unknown-cluster':
      b.request_headers = armedThen(`${rec(0, `(call $http (i32.const 400) (i32.const ${Buffer.byteLength(cluster, 'latin1')}) (i32.const 300) (i32.const ${CALL_HEADERS_SIZE}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 64))`)}
        ${addHeader(0, [32, 8], [2048, 1])}`);
      break;
    case 'local-response-after-headers':
      b.response_body = armedThen('(drop (call $local (i32.const 500) (i32.const 0) (i32.const 0) (i32.const 48) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const -1)))');
      break;
    case 'buffer-request-body':
      // Pause (= buffer) every chunk until the last one.
      b.request_body = '(if (result i32) (local.get 2) (then (i32.const 0)) (else (i32.const 1)))';
      break;
    case 'environment-probe':
      // x-result: number of environment variables the plugin sees, as a letter ('A' = none).
      b.request_headers = armedThen(`(drop (call $envsizes (i32.const 64) (i32.const 68)))
        (i32.store8 (i32.const 2048) (i32.add (i32.const 65) (i32.load (i32.const 64))))
        ${addHeader(0, [32, 8], [2048, 1])}`);
      break;
    case 'file-probe':
      // path_open on fd 3 (no preopens exist) and fd_read on stdin: both must fail (EBADF = 8 → 'I').
      b.request_headers = armedThen(`${rec(0, '(call $open (i32.const 3) (i32.const 0) (i32.const 700) (i32.const 11) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64))')}
        ${rec(1, '(call $read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 68))')}
        ${addHeader(0, [32, 8], [2048, 2])}`);
      break;
    case 'set-property-request-path':
      b.request_headers = '(drop (call $setprop (i32.const 720) (i32.const 12) (i32.const 740) (i32.const 9)))';
      break;
    case 'read-request-path':
      b.request_headers = `(if (i32.eqz (call $getprop (i32.const 720) (i32.const 12) (i32.const 64) (i32.const 68)))
        (then (drop (call $add (i32.const 0) (i32.const 760) (i32.const 11) (i32.load (i32.const 64)) (i32.load (i32.const 68))))))`;
      break;
    case 'crlf-local-reply':
      b.request_headers = armedThen(`(drop (call $local (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 48) (i32.const 4) (i32.const 1024) (i32.const ${EVIL_LOCAL_SIZE}) (i32.const -1)))`);
      break;
    case 'bad-status':
      b.response_headers = armedThen('(drop (call $replace (i32.const 2) (i32.const 860) (i32.const 7) (i32.const 870) (i32.const 3)))');
      break;
    case 'remove-pseudo-headers':
      b.request_headers = armedThen('(drop (call $remove (i32.const 0) (i32.const 880) (i32.const 5))) (drop (call $remove (i32.const 0) (i32.const 890) (i32.const 10))) (drop (call $remove (i32.const 0) (i32.const 910) (i32.const 7)))');
      break;
    case 'tag':
      b.request_headers = addHeader(0, [840, 5], [800, Buffer.byteLength(tag, 'latin1')]);
      b.response_headers = addHeader(2, [840, 5], [800, Buffer.byteLength(tag, 'latin1')]);
      break;
    case 'noop':
    case 'socket-import':
      break;
  }
  return { bodies: b, data };
}

/** WAT text of a fault plugin. */
export function faultWat(kind: FaultKind, o: FaultOptions = {}): string {
  const { bodies, data } = bodiesFor(kind, o);
  // Each callback starts by resetting the bump heap (values the host returns live only for one call).
  const fn = (name: string, sig: string, dflt: string, prologue = '(global.set $heap (i32.const 8192))') =>
    `(func (export "proxy_on_${name}") ${sig} ${prologue} ${bodies[name] ?? ''} ${dflt})`;
  const socket = kind === 'socket-import' ? '(import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))' : '';
  return `(module
  ${IMPORTS}
  ${socket}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (global $armed (mut i32) (i32.const 0))
  (func (export "malloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  ${fn('configure', '(param i32 i32) (result i32)', '(i32.const 1)')}
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $heap (i32.const 8192))
    (global.set $armed (i32.eqz (call $get (i32.const 0) (i32.const 16) (i32.const 7) (i32.const 64) (i32.const 68))))
    ${bodies.request_headers ?? ''}
    (i32.const 0))
  ${kind === 'trap-request-body' || kind === 'buffer-request-body' ? fn('request_body', '(param i32 i32 i32) (result i32)', kind === 'buffer-request-body' ? '' : '(i32.const 0)') : ''}
  ${fn('response_headers', '(param i32 i32 i32) (result i32)', '(i32.const 0)')}
  ${kind === 'trap-response-body' || kind === 'local-response-after-headers' ? fn('response_body', '(param i32 i32 i32) (result i32)', '(i32.const 0)') : ''}
  ${fn('log', '(param i32)', '', '')}
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
  ${data}
)`;
}

let wabtPromise: Promise<{ parseWat(name: string, text: string, features?: Record<string, boolean>): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void } }> | undefined;
const cache = new Map<string, Promise<Uint8Array>>();

/** Compiles a fault plugin (cached per kind and options in this process). */
export function faultWasm(kind: FaultKind, o: FaultOptions = {}): Promise<Uint8Array> {
  const key = JSON.stringify([kind, o]);
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      wabtPromise ??= (async () => ((await import('wabt')) as unknown as { default: () => Promise<never> }).default())();
      const wabt = await wabtPromise;
      const m = wabt.parseWat(`${kind}.wat`, faultWat(kind, o), { mutable_globals: true, sign_extension: true, bulk_memory: true });
      try {
        return new Uint8Array(m.toBinary({}).buffer);
      } finally {
        m.destroy();
      }
    })();
    cache.set(key, p);
  }
  return p;
}

/** Writes the fault plugin into `dir` and returns its `file://` URL. */
export async function faultPlugin(dir: string, kind: FaultKind, o: FaultOptions = {}, fileName = `${kind}.wasm`): Promise<string> {
  const file = join(dir, fileName);
  await writeFile(file, await faultWasm(kind, o));
  return pathToFileURL(file).href;
}
