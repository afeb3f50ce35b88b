/** A turn as a snapshot lists it: long texts cut, so a snapshot's size is bounded whatever the prompts were. */
import type { TurnInfo } from '../../protocol/index.js';

/**
 * `turn` with its `prompt` and a completed turn's `output` cut to `maxChars`
 * characters, marked `truncated: true` when anything was cut. Unchanged (the
 * same object) when both fit. A snapshot lists up to `maxSnapshotTurns` turns,
 * so it stays near `maxSnapshotTurns × 2 × maxChars` instead of growing with
 * every 1 MB prompt; `GET /v1/sessions/:sid/turns/:tid` still answers the
 * whole turn.
 *
 * @example
 * snapshotTurn(turnInfo(turn, seq), 4096);
 */
export function snapshotTurn(turn: TurnInfo, maxChars: number): TurnInfo {
  const output = turn.terminal?.type === 'turn.completed' ? turn.terminal.output : undefined;
  const longPrompt = turn.prompt.length > maxChars;
  const longOutput = output !== undefined && output.length > maxChars;
  if (!longPrompt && !longOutput) return turn;
  const cut: TurnInfo = { ...turn, truncated: true };
  if (longPrompt) cut.prompt = turn.prompt.slice(0, maxChars);
  if (longOutput && turn.terminal?.type === 'turn.completed') cut.terminal = { ...turn.terminal, output: output.slice(0, maxChars) };
  return cut;
}
