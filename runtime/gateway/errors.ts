/**
 * Typed errors of the gateway. Every error has a stable `code`; configuration errors also name
 * the file, the object (`Kind namespace/name` or a native section) and the field that is wrong.
 */

/** Base class of every gateway error. */
export class GatewayError extends Error {
  /** Stable machine-readable code (`GW_...`). */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
  }
}

/** Where in the configuration something is wrong. Missing parts are simply not shown. */
export interface ConfigLocation {
  file?: string;
  /** `Ingress default/foo`, `WasmPlugin higress-system/key-auth`, `routes[2]`... */
  object?: string;
  /** JSON-pointer-like path inside the object (`spec.rules[0].http.paths[1].path`). */
  field?: string;
}

/** A configuration change that cannot be applied (YAML, schema, reference, plugin fetch or configure). */
export class ConfigError extends GatewayError {
  readonly location: ConfigLocation;
  constructor(code: string, message: string, location: ConfigLocation = {}, options?: { cause?: unknown }) {
    super(code, `${formatLocation(location)}${message}`, options);
    this.name = 'ConfigError';
    this.location = location;
  }
}

function formatLocation(loc: ConfigLocation): string {
  const parts: string[] = [];
  if (loc.file) parts.push(loc.file);
  if (loc.object) parts.push(loc.object);
  if (loc.field) parts.push(loc.field);
  return parts.length ? `${parts.join(': ')}: ` : '';
}

/** Codes used by {@link ConfigError}. */
export const CONFIG_CODES = {
  read: 'GW_CONFIG_READ',
  yaml: 'GW_CONFIG_YAML',
  schema: 'GW_CONFIG_SCHEMA',
  reference: 'GW_CONFIG_REFERENCE',
  conflict: 'GW_CONFIG_CONFLICT',
  pluginFetch: 'GW_PLUGIN_FETCH',
  pluginCompile: 'GW_PLUGIN_COMPILE',
  pluginConfigure: 'GW_PLUGIN_CONFIGURE',
  tls: 'GW_TLS',
} as const;

/** An upstream could not be reached or answered badly. */
export class UpstreamError extends GatewayError {
  constructor(code: 'GW_UPSTREAM_CONNECT' | 'GW_UPSTREAM_TIMEOUT' | 'GW_UPSTREAM_RESET' | 'GW_NO_ENDPOINT', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'UpstreamError';
  }
}
