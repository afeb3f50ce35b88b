/** A WebSocket client frame (as every host decodes it) → the {@link Command} it asks for. */
import type { ClientFrame } from '../../protocol/index.js';
import type { Command } from './command.js';

/** The `subscribe` command of a subscribe frame. */
export function subscribeFrameCommand(frame: Extract<ClientFrame, { type: 'subscribe' }>): Extract<Command, { type: 'subscribe' }> {
  const after = frame.after ?? 0;
  return frame.epoch === undefined
    ? { type: 'subscribe', sessionId: frame.sessionId, after }
    : { type: 'subscribe', sessionId: frame.sessionId, after, epoch: frame.epoch };
}

/** The command of a prompt, cancel or respond frame, on behalf of the connection's `clientId` (its label; the principal is on `caller`). */
export function commandOfFrame(frame: Extract<ClientFrame, { type: 'prompt' | 'cancel' | 'respond' }>, clientId: string): Command {
  if (frame.type === 'respond') {
    return { type: 'respond', sessionId: frame.sessionId, turnId: frame.turnId, requestId: frame.requestId, answer: frame.answer, clientId };
  }
  if (frame.type === 'prompt') {
    return {
      type: 'prompt',
      sessionId: frame.sessionId,
      prompt: frame.prompt,
      clientId,
      ...(frame.idempotencyKey === undefined ? {} : { idempotencyKey: frame.idempotencyKey }),
    };
  }
  return {
    type: 'cancel',
    sessionId: frame.sessionId,
    turnId: frame.turnId,
    clientId,
    ...(frame.reason === undefined ? {} : { reason: frame.reason }),
  };
}
