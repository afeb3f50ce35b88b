/** How deep a JSON text nests, measured without parsing it: deep nesting overflows the stack of whatever walks the value later. */

/**
 * Whether `text` nests arrays/objects deeper than `maxDepth`. A linear scan
 * that skips strings; it does not validate the JSON (the parser does that
 * after). Checked before `JSON.parse`, so a 12 KB body nested 6,000 deep is
 * refused up front instead of overflowing a store's serializer half-way
 * through creating a session.
 *
 * @example
 * exceedsJsonDepth('[[[1]]]', 2); // true
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  // Quick exit: a text with fewer brackets than the limit cannot exceed it.
  if (text.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

/** The nesting depth accepted in request bodies and WebSocket frames. @default 64 */
export const DEFAULT_MAX_JSON_DEPTH = 64;
