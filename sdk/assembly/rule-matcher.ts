// Higress rule scoping (REFERENCE §2, as higress-group/wasm-go's rule_matcher does it): the
// control plane sends the global config at top level plus `_rules_`, each rule scoped by
// `_match_route_` (optionally with `_match_service_`: both must match), else `_match_domain_`,
// else `_match_service_`, else `_match_route_prefix_`. First matching rule wins; no match falls
// back to the global config when there is one, else the plugin is bypassed for the request.
import { JsonObject } from "./json";
import { configError } from "./errors";
import { HttpContext } from "./http-context";

/** Keys the SDK consumes; plugin parsers never see them as config fields of their own. */
export const RULES_KEY = "_rules_";
export const MATCH_ROUTE_KEY = "_match_route_";
export const MATCH_DOMAIN_KEY = "_match_domain_";
export const MATCH_SERVICE_KEY = "_match_service_";
export const MATCH_ROUTE_PREFIX_KEY = "_match_route_prefix_";
export const PLUGIN_ID_KEY = "_plugin_id_";

/** How a rule is scoped. */
export enum RuleCategory { ROUTE, HOST, SERVICE, ROUTE_PREFIX }


/** Where one rule applies (its config lives beside it in the plugin's rule list). */
export class RuleScope {
  category: RuleCategory = RuleCategory.ROUTE;
  routes: Array<string> = new Array<string>();
  hosts: Array<string> = new Array<string>();
  services: Array<string> = new Array<string>();
  routePrefixes: Array<string> = new Array<string>();
  /** Short description for logs: `_match_route_ ["a","b"]`. */
  describe: string = "";
}

/** Port-stripped `:authority`, IPv6-aware: `[::1]:80` → `[::1]`, `a.com:8080` → `a.com`. */
export function stripPort(authority: string): string {
  const colon = authority.lastIndexOf(":", i32.MAX_VALUE);
  if (colon < 0) return authority;
  const v6End = authority.lastIndexOf("]", i32.MAX_VALUE);
  if (v6End >= 0 && v6End > colon) return authority; // "[::1]" without a port
  if (v6End < 0 && authority.indexOf(":", 0) != colon) return authority; // bare IPv6 literal, no brackets
  return authority.substring(0, colon);
}

/** One `_match_domain_` entry: `*.a.com` suffix, `a.*` prefix, else exact. */
function hostMatches(p: string, host: string, authority: string): bool {
  const n = p.length;
  if (n && p.charCodeAt(0) == 0x2a) return host.endsWith(p.substring(1, n));
  if (n && p.charCodeAt(n - 1) == 0x2a) return host.startsWith(p.substring(0, n - 1));
  // An entry with a port ("a.com:8080", "[::1]:8080") must match the authority with its port;
  // Higress compares against the port-stripped host only, where such an entry could never match.
  return p == host || p == authority;
}

/** `outbound|<port>|<subset>|<fqdn>` against entries `fqdn` or `fqdn:port`. */
function serviceMatches(entries: Array<string>, cluster: string): bool {
  const p1 = cluster.indexOf("|", 0);
  if (p1 < 0) return false;
  const p2 = cluster.indexOf("|", p1 + 1);
  if (p2 < 0) return false;
  const p3 = cluster.indexOf("|", p2 + 1);
  if (p3 < 0 || cluster.indexOf("|", p3 + 1) >= 0) return false;
  const port = cluster.substring(p1 + 1, p2);
  const fqdn = cluster.substring(p3 + 1, cluster.length);
  for (let i = 0; i < entries.length; i++) {
    const e = unchecked(entries[i]);
    const colon = e.lastIndexOf(":", i32.MAX_VALUE);
    if (colon >= 0) {
      if (e.substring(0, colon) == fqdn && e.substring(colon + 1, e.length) == port) return true;
    } else if (e == fqdn) return true;
  }
  return false;
}

/** `key <its JSON text>`, e.g. `_match_route_ ["a","b"]`, for log lines. */
function quoteKey(rule: JsonObject, key: string): string {
  return key + " " + rule.get(key)!.toString();
}

/**
 * Reads a rule's `_match_*` keys. Reports a config error (and returns null) when the rule has
 * none of them or one is not an array of strings.
 */
export function parseRuleScope(rule: JsonObject): RuleScope | null {
  const s = new RuleScope();
  s.routes = rule.getStringArray(MATCH_ROUTE_KEY);
  const domains = rule.getStringArray(MATCH_DOMAIN_KEY);
  s.hosts = domains;
  s.services = rule.getStringArray(MATCH_SERVICE_KEY);
  s.routePrefixes = rule.getStringArray(MATCH_ROUTE_PREFIX_KEY);
  if (s.routes.length) {
    s.category = RuleCategory.ROUTE;
    s.describe = quoteKey(rule, MATCH_ROUTE_KEY);
    if (s.services.length) s.describe += " " + quoteKey(rule, MATCH_SERVICE_KEY);
  } else if (domains.length) {
    s.category = RuleCategory.HOST;
    s.describe = quoteKey(rule, MATCH_DOMAIN_KEY);
  } else if (s.services.length) {
    s.category = RuleCategory.SERVICE;
    s.describe = quoteKey(rule, MATCH_SERVICE_KEY);
  } else if (s.routePrefixes.length) {
    s.category = RuleCategory.ROUTE_PREFIX;
    s.describe = quoteKey(rule, MATCH_ROUTE_PREFIX_KEY);
  } else {
    configError("no " + MATCH_ROUTE_KEY + ", " + MATCH_DOMAIN_KEY + ", " + MATCH_SERVICE_KEY + " or " + MATCH_ROUTE_PREFIX_KEY);
    return null;
  }
  return s;
}

/** True when `scope` applies to the request (route name, cluster name and authority are read from the host once, when first needed). */
export function scopeMatches(scope: RuleScope, input: HttpContext): bool {
  switch (scope.category) {
    case RuleCategory.ROUTE: {
      if (!scope.routes.includes(input.routeName())) return false;
      return scope.services.length == 0 || serviceMatches(scope.services, input.clusterName());
    }
    case RuleCategory.HOST: {
      const authority = input.authority();
      const host = stripPort(authority);
      for (let i = 0; i < scope.hosts.length; i++) if (hostMatches(unchecked(scope.hosts[i]), host, authority)) return true;
      return false;
    }
    case RuleCategory.SERVICE:
      return serviceMatches(scope.services, input.clusterName());
    default: {
      const route = input.routeName();
      for (let i = 0; i < scope.routePrefixes.length; i++) if (route.startsWith(unchecked(scope.routePrefixes[i]))) return true;
      return false;
    }
  }
}

/** Index of the first rule in `scopes` that matches, or -1. */
export function firstMatch(scopes: Array<RuleScope>, input: HttpContext): i32 {
  for (let i = 0; i < scopes.length; i++) if (scopeMatches(unchecked(scopes[i]), input)) return i;
  return -1;
}
