/**
 * Token scopes (distribution token.md "Requesting a Token"): `repository:<name>:<actions>`.
 * Scopes for one repository are merged so a push asks once for `pull,push`.
 */

/** `repository:<repo>:<actions>` with actions sorted and de-duplicated. */
export function repositoryScope(repository: string, actions: string[]): string {
  return `repository:${repository}:${[...new Set(actions)].sort().join(',')}`;
}

/** Merges scope strings: same resource type and name → one scope with the union of actions. */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  const out: string[] = [];
  for (const scope of scopes) {
    for (const s of scope.split(' ')) {
      if (!s) continue;
      const last = s.lastIndexOf(':');
      if (last < 0) {
        out.push(s);
        continue;
      }
      const resource = s.slice(0, last);
      let set = byResource.get(resource);
      if (!set) byResource.set(resource, (set = new Set()));
      for (const a of s.slice(last + 1).split(',')) if (a) set.add(a);
    }
  }
  for (const [resource, actions] of byResource) out.push(`${resource}:${[...actions].sort().join(',')}`);
  return out.sort();
}
