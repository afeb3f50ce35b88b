/** How an error message shows a value it refuses: short, and never throwing. */

/**
 * `value` as it reads in a message: strings quoted, functions as `a function`,
 * URLs and errors by their text, the rest as JSON where it has one.
 *
 * @example
 * throw new TypeError(`createClient: \`baseUrl\` must be an http(s) URL (got ${describeValue(value)})`);
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof URL) return value.href;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
