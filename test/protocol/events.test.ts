import { describe, expect, it } from 'vitest';
import { SessionEvent, TerminalEvent, ClientFrame, isTerminal } from '../../src/protocol/index.js';

const base = { sessionId: 's1', seq: 1, epoch: 'e1', time: 0, turnId: 't1' };

describe('protocol schemas', () => {
  it('accepts each known event type and rejects malformed ones', () => {
    expect(SessionEvent.safeParse({ ...base, type: 'turn.delta', text: 'hi' }).success).toBe(true);
    expect(SessionEvent.safeParse({ ...base, type: 'turn.delta' }).success).toBe(false);
    expect(SessionEvent.safeParse({ ...base, seq: 0, type: 'turn.started' }).success).toBe(false);
    expect(SessionEvent.safeParse({ ...base, seq: 1.5, type: 'turn.started' }).success).toBe(false);
  });

  it('passes unknown event types through with their extra fields', () => {
    const parsed = SessionEvent.safeParse({ ...base, type: 'turn.thinking', budget: 3 });
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ type: 'turn.thinking', budget: 3 });
  });

  it('knows exactly three terminal types', () => {
    expect(TerminalEvent.safeParse({ ...base, type: 'turn.completed', output: 'x' }).success).toBe(true);
    expect(TerminalEvent.safeParse({ ...base, type: 'turn.canceled', canceledBy: 'c', reason: 'r' }).success).toBe(true);
    expect(
      TerminalEvent.safeParse({ ...base, type: 'turn.error', error: { code: 'x', message: 'y', retryable: false } })
        .success,
    ).toBe(true);
    expect(TerminalEvent.safeParse({ ...base, type: 'turn.delta', text: 'x' }).success).toBe(false);
    expect(isTerminal({ type: 'turn.canceled' })).toBe(true);
    expect(isTerminal({ type: 'turn.delta' })).toBe(false);
  });

  it('rejects client frames of unknown type or without a request id', () => {
    expect(ClientFrame.safeParse({ type: 'prompt', id: 'r1', sessionId: 's', prompt: 'p' }).success).toBe(true);
    expect(ClientFrame.safeParse({ type: 'prompt', sessionId: 's', prompt: 'p' }).success).toBe(false);
    expect(ClientFrame.safeParse({ type: 'explode', id: 'r1' }).success).toBe(false);
  });
});
