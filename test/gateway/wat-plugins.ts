/**
 * Tiny hand-written proxy-wasm plugins (WAT, compiled with wabt) for failure cases the example
 * plugins never produce: a trap, an endless loop, a configuration refusal. Each reacts only when
 * the request carries the header `x-<action>` (`x-crash`, `x-loop`). `noop` does nothing (for benchmarks).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Kind = 'crash' | 'loop' | 'refuse-config' | 'noop';

function wat(kind: Kind): string {
  if (kind === 'noop') {
    return `(module
  (memory (export "memory") 1)
  (func (export "malloc") (param i32) (result i32) i32.const 1024)
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) i32.const 0)
)`;
  }
  const header = kind === 'loop' ? 'x-loop' : 'x-crash';
  const action = kind === 'loop' ? '(loop $forever (br $forever))' : 'unreachable';
  return `(module
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "${header}")
  (func (export "malloc") (param $n i32) (result i32) (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get $n
    i32.add
    i32.const 7
    i32.add
    i32.const -8
    i32.and
    global.set $heap
    local.get $p)
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const ${kind === 'refuse-config' ? 0 : 1})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    i32.const 4096
    global.set $heap
    (if (i32.eqz (call $get (i32.const 0) (i32.const 16) (i32.const ${header.length}) (i32.const 64) (i32.const 68)))
      (then ${action}))
    i32.const 0)
)`;
}

/** Compiles the plugin into `dir` and returns its `file://` URL. */
export async function watPlugin(dir: string, kind: Kind): Promise<string> {
  const wabt = await (await import('wabt')).default();
  const mod = wabt.parseWat(`${kind}.wat`, wat(kind));
  const { buffer } = mod.toBinary({});
  mod.destroy();
  const file = join(dir, `${kind}.wasm`);
  await writeFile(file, buffer);
  return pathToFileURL(file).href;
}
