// Replaces AssemblyScript's `env.abort` import (cli/compile.ts passes `--use abort=` pointing
// here): the message goes to the proxy log at CRITICAL, then the VM traps, which the host turns
// into the plugin's fail strategy. Written against the raw import so it works before any SDK
// state exists and cannot recurse into itself.
import { decimal } from "./decimal";

@external("env", "proxy_log")
declare function proxy_log(level: i32, ptr: usize, size: usize): i32;

function write(s: string): void {
  const b = String.UTF8.encode(s, false);
  proxy_log(5, changetype<usize>(b), b.byteLength);
}

/** Logs an AssemblyScript abort (assertion, out-of-bounds, OOM...) and traps. */
export function abort(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  let text = "plugin aborted: " + (message !== null ? message : "(no message)");
  if (fileName !== null) text += " at " + fileName + ":" + decimal(line) + ":" + decimal(column);
  write(text);
  unreachable();
}
