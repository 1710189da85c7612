/** Splits a dotted path such as `input.customer.tier` into its segments. */
export function pathSegments(path: string): string[] {
  return path.split('.').filter((segment) => segment !== '');
}

/** The value at a dotted path inside nested plain objects, or undefined when any step is missing. */
export function valueAt(root: Readonly<Record<string, unknown>>, path: string): unknown {
  let current: unknown = root;
  for (const segment of pathSegments(path)) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * Every value at a dotted path; an array on the way is walked element by element
 * (`output.clauses.deviation` gives each clause's deviation). Missing steps give no value.
 */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const segment of pathSegments(path)) {
    current = current
      .flatMap((v) => (Array.isArray(v) ? v : [v]))
      .flatMap((v) =>
        typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, segment)
          ? [(v as Record<string, unknown>)[segment]]
          : [],
      );
  }
  return current;
}

/** Returns a copy of `root` with the value at `path` replaced; intermediate objects are copied, not mutated. */
export function withValueAt(
  root: Readonly<Record<string, unknown>>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = pathSegments(path);
  if (head === undefined) return { ...root };
  if (rest.length === 0) return { ...root, [head]: value };
  const child = root[head];
  const childObject =
    typeof child === 'object' && child !== null && !Array.isArray(child)
      ? (child as Record<string, unknown>)
      : {};
  return { ...root, [head]: withValueAt(childObject, rest.join('.'), value) };
}

/** Converts an ajv instance path (`/customer/email`, `/citations/0`) to `root.customer.email` / `root.citations[0]`. */
export function describeInstancePath(root: string, instancePath: string): string {
  let out = root;
  for (const raw of instancePath.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`;
  }
  return out;
}
