// Plugin logging: every line is prefixed with `[plugin-name]` (as Higress plugins log), and
// the level is checked with the host first so a disabled line costs one host call, not a write.
import * as host from "./hostcalls";
import { LogLevel } from "./types";

let prefix = "";

/** Sets the name shown in front of every log line (the SDK does it from `definePlugin`). */
export function setLogName(name: string): void {
  prefix = name.length ? "[" + name + "] " : "";
}

/** True when the host would keep a line at `level` (use it before building costly messages). */
export function logEnabled(level: LogLevel): bool {
  return <i32>level >= host.getLogLevel();
}

/** Logs `message` at `level` if enabled. */
export function logAt(level: LogLevel, message: string): void {
  if (<i32>level < host.getLogLevel()) return;
  host.log(level, prefix + message);
}

/** Logging at each level: `log.info("...")`. */
export namespace log {
  export function trace(message: string): void { logAt(LogLevel.TRACE, message); }
  export function debug(message: string): void { logAt(LogLevel.DEBUG, message); }
  export function info(message: string): void { logAt(LogLevel.INFO, message); }
  export function warn(message: string): void { logAt(LogLevel.WARN, message); }
  export function error(message: string): void { logAt(LogLevel.ERROR, message); }
  export function critical(message: string): void { logAt(LogLevel.CRITICAL, message); }
}
