/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1): the scheme and its auth-params, as registries send
 * them — `Basic realm="…"` or `Bearer realm="…",service="…",scope="…"` (distribution token.md).
 */

/** A parsed challenge. `scheme` is lower-case; param names are lower-case. */
export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/** Parses one challenge header value; returns undefined for an empty or unparsable value. */
export function parseChallenge(header: string | undefined | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const params: Record<string, string> = {};
  let rest = m[2];
  // auth-param = token BWS "=" BWS ( token / quoted-string ), comma separated
  const re = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/y;
  for (;;) {
    const pm = re.exec(rest);
    if (!pm) break;
    params[pm[1].toLowerCase()] = pm[2] !== undefined ? pm[2].replace(/\\(.)/g, '$1') : pm[3];
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme, params };
}
