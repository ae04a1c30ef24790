// Higress rule scoping (REFERENCE §2, as higress-group/wasm-go's rule_matcher does it): the
// control plane sends the global config at top level plus `_rules_`, each rule scoped by
// `_match_route_` (optionally with `_match_service_`: both must match), else `_match_domain_`,
// else `_match_service_`, else `_match_route_prefix_`. First matching rule wins; no match falls
// back to the global config when there is one, else the plugin is bypassed for the request.
import { JsonObject } from "./json";
import { configError } from "./errors";

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
  const colon = authority.lastIndexOf(":");
  if (colon < 0) return authority;
  const v6End = authority.lastIndexOf("]");
  if (v6End >= 0 && v6End > colon) return authority; // "[::1]" without a port
  if (v6End < 0 && authority.indexOf(":") != colon) return authority; // bare IPv6 literal, no brackets
  return authority.substring(0, colon);
}

/** One `_match_domain_` entry: `*.a.com` suffix, `a.*` prefix, else exact. */
function hostMatches(p: string, host: string, authority: string): bool {
  const n = p.length;
  if (n && p.charCodeAt(0) == 0x2a) return host.endsWith(p.substring(1));
  if (n && p.charCodeAt(n - 1) == 0x2a) return host.startsWith(p.substring(0, n - 1));
  // An entry with a port ("a.com:8080", "[::1]:8080") must match the authority with its port;
  // Higress compares against the port-stripped host only, where such an entry could never match.
  return p == host || p == authority;
}

/** `outbound|<port>|<subset>|<fqdn>` against entries `fqdn` or `fqdn:port`. */
function serviceMatches(entries: Array<string>, cluster: string): bool {
  const p1 = cluster.indexOf("|");
  if (p1 < 0) return false;
  const p2 = cluster.indexOf("|", p1 + 1);
  if (p2 < 0) return false;
  const p3 = cluster.indexOf("|", p2 + 1);
  if (p3 < 0 || cluster.indexOf("|", p3 + 1) >= 0) return false;
  const port = cluster.substring(p1 + 1, p2);
  const fqdn = cluster.substring(p3 + 1);
  for (let i = 0; i < entries.length; i++) {
    const e = unchecked(entries[i]);
    const colon = e.lastIndexOf(":");
    if (colon >= 0) {
      if (e.substring(0, colon) == fqdn && e.substring(colon + 1) == port) return true;
    } else if (e == fqdn) return true;
  }
  return false;
}

function listOf(name: string, items: Array<string>): string {
  let s = name + " [";
  for (let i = 0; i < items.length; i++) s += (i ? "," : "") + "\"" + items[i] + "\"";
  return s + "]";
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
    s.describe = listOf(MATCH_ROUTE_KEY, s.routes);
    if (s.services.length) s.describe += " " + listOf(MATCH_SERVICE_KEY, s.services);
  } else if (domains.length) {
    s.category = RuleCategory.HOST;
    s.describe = listOf(MATCH_DOMAIN_KEY, domains);
  } else if (s.services.length) {
    s.category = RuleCategory.SERVICE;
    s.describe = listOf(MATCH_SERVICE_KEY, s.services);
  } else if (s.routePrefixes.length) {
    s.category = RuleCategory.ROUTE_PREFIX;
    s.describe = listOf(MATCH_ROUTE_PREFIX_KEY, s.routePrefixes);
  } else {
    configError("the rule has none of _match_route_, _match_domain_, _match_service_, _match_route_prefix_ (or they are empty)");
    return null;
  }
  return s;
}

/** Request facts a rule is matched on; each is read from the host only if some rule needs it. */
export abstract class MatchInput {
  abstract routeName(): string;
  abstract clusterName(): string;
  abstract authority(): string;
}

/** True when `scope` applies to the request described by `input`. */
export function scopeMatches(scope: RuleScope, input: MatchInput): bool {
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
export function firstMatch(scopes: Array<RuleScope>, input: MatchInput): i32 {
  for (let i = 0; i < scopes.length; i++) if (scopeMatches(unchecked(scopes[i]), input)) return i;
  return -1;
}
