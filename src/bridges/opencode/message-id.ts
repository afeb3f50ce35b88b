/** messageId: OpenCode-shaped ascending message ids, chosen by the bridge so it can confirm its own prompt. */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
let lastMs = 0;
let counter = 0;

/**
 * A `msg_…` id in OpenCode's own format (12 hex digits of time × 4096 +
 * counter, then 14 base62 characters), so it sorts after the ids OpenCode
 * made before it; OpenCode orders a session's messages by id.
 */
export function newMessageId(now: number = Date.now(), random: () => number = Math.random): string {
  if (now !== lastMs) {
    lastMs = now;
    counter = 0;
  }
  counter++;
  const value = BigInt(now) * 0x1000n + BigInt(counter);
  const hex = (value & 0xffffffffffffn).toString(16).padStart(12, '0');
  let tail = '';
  for (let i = 0; i < 14; i++) tail += BASE62[Math.floor(random() * 62)];
  return `msg_${hex}${tail}`;
}
