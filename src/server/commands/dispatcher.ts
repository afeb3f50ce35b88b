/** The command table every host calls: a command → the core call → the reply, acknowledged only once durable. */
import type { Logger } from '../../logging/logger.js';
import { ServerError, sessionNotFound } from '../core/server-error.js';
import type { TetherCore } from '../core/tether-core.js';
import type { Command, CommandReply, CommandType } from './command.js';
import { errorReply } from './error-reply.js';
import { AccessControl, type RequestView } from '../security/access-control.js';
import type { Caller } from '../security/principal.js';

/** What {@link Dispatcher} needs besides the core. */
export interface DispatcherOptions {
  logger: Logger;
  /** Largest number of events in one long-poll reply. */
  maxPollEvents: number;
  /** Who may call, and what each caller may do. @default everyone, everything (no `authenticate`) */
  access?: AccessControl;
}

type Success = Extract<CommandReply, { ok: true }>;
type Handler<T extends CommandType> = (core: TetherCore, command: Extract<Command, { type: T }>, options: DispatcherOptions) => Promise<Success> | Success;

const reply = (status: number, body: unknown): Success => ({ ok: true, status, json: JSON.stringify(body) });


/**
 * One entry per command. The HTTP host, the WebSocket host and the msw
 * handlers all run these, so a test double cannot answer differently from
 * the real server.
 */
const COMMANDS: { [T in CommandType]: Handler<T> } = {
  async createSession(core, command) {
    const owner = command.caller?.principal?.id;
    const session = await core.createSession({
      ...(command.metadata === undefined ? {} : { metadata: command.metadata }),
      ...(owner === undefined ? {} : { owner }),
      ...(command.sharedWith === undefined ? {} : { sharedWith: command.sharedWith }),
    });
    return reply(201, { session });
  },
  async getSession(core, command) {
    const snapshot = await core.snapshot(command.sessionId);
    if (!snapshot) throw sessionNotFound(command.sessionId);
    return reply(200, snapshot);
  },
  async prompt(core, command) {
    const clientId = identityOf(command);
    const result = await core.prompt(command.sessionId, {
      prompt: command.prompt,
      ...(clientId === undefined ? {} : { clientId }),
      ...(command.idempotencyKey === undefined ? {} : { idempotencyKey: command.idempotencyKey }),
    });
    // prompt() resolves only once turn.queued and the turn record are stored (a
    // crash after the reply keeps the turn; a failing store is a 503); a
    // repeated key waits too, in case the first request's write is in flight.
    return reply(result.created ? 201 : 200, { turn: result.turn });
  },
  async getTurn(core, command) {
    // Throws session_not_found for a gone session, so it is told apart from an unknown turn.
    const turn = await core.getTurn(command.sessionId, command.turnId);
    if (!turn) throw new ServerError('not_found', `Unknown turn: ${command.turnId}`, 404);
    return reply(200, { turn });
  },
  async cancel(core, command) {
    // Throws session_not_found for a gone session; resolves once the cancel is stored.
    const clientId = identityOf(command);
    const result = await core.cancel(command.sessionId, command.turnId, {
      ...(clientId === undefined ? {} : { clientId }),
      ...(command.reason === undefined ? {} : { reason: command.reason }),
    });
    if (!result) throw new ServerError('not_found', `Unknown turn: ${command.turnId}`, 404);
    return reply(200, result);
  },
  async respond(core, command) {
    // Resolves once the answer is stored; races (another answer won, the turn ended) are 200s.
    const clientId = identityOf(command);
    const result = await core.respond(command.sessionId, command.turnId, command.requestId, command.answer, {
      ...(clientId === undefined ? {} : { clientId }),
    });
    if (!result) throw new ServerError('not_found', `Unknown turn: ${command.turnId}`, 404);
    return reply(200, result);
  },
  async subscribe(core, command) {
    const cursor = await core.cursor(command.sessionId, command.epoch === undefined ? { after: command.after } : { after: command.after, epoch: command.epoch });
    if (!cursor) throw sessionNotFound(command.sessionId);
    return { ...reply(200, { epoch: cursor.log.epoch, seq: cursor.log.seq }), cursor };
  },
  async health(core) {
    const health = await core.health();
    return reply(health.status === 'ok' ? 200 : 503, health);
  },
  async poll(core, command, options) {
    const polled = await core.pollEntries(command.sessionId, {
      after: command.after,
      waitMs: command.waitMs,
      maxEvents: options.maxPollEvents,
      ...(command.signal === undefined ? {} : { signal: command.signal }),
      ...(command.epoch === undefined ? {} : { epoch: command.epoch }),
    });
    // Events go out as the log stored them: no second JSON.stringify per event.
    const events = polled.entries.map((entry) => entry.json).join(',');
    const reset = polled.reset ? `,"reset":${JSON.stringify(polled.reset)}` : '';
    return { ok: true, status: 200, json: `{"epoch":${JSON.stringify(polled.epoch)},"events":[${events}]${reset},"next":${polled.next}}` };
  },
};

/**
 * Who prompted or canceled, as recorded (`turn.queued.clientId`,
 * `turn.canceled.canceledBy`): the principal when the server authenticates —
 * a label the client chose cannot stand in for it — else that label.
 */
function identityOf(command: { clientId?: string; caller?: Caller }): string | undefined {
  return command.caller?.principal?.id ?? command.clientId;
}

/**
 * Runs commands against one core. Never rejects: every failure is a reply
 * (see {@link errorReply}). This is the one place a command passes through on
 * every host — where authentication and authorization of a caller belong.
 *
 * @example
 * const dispatcher = new Dispatcher(core, { logger, maxPollEvents: 10_000 });
 * const reply = await dispatcher.run({ type: 'getSession', sessionId });
 * if (!reply.ok) console.log(reply.status, reply.error.code);
 */
export class Dispatcher {
  readonly core: TetherCore;
  readonly #options: DispatcherOptions;
  readonly #access: AccessControl;

  constructor(core: TetherCore, options: DispatcherOptions) {
    this.core = core;
    this.#options = options;
    this.#access = options.access ?? new AccessControl();
  }

  /** Whether callers are authenticated (an `authenticate` hook is set). */
  get authenticates(): boolean {
    return this.#access.enabled;
  }

  /**
   * The caller of a request, before any other work: hosts call this on every
   * HTTP request and on the WebSocket upgrade, then put the caller on each
   * command they run for it.
   *
   * @throws {ServerError} `401 unauthorized`
   */
  authenticate(request: RequestView): Promise<Caller> {
    return this.#access.authenticate(request);
  }

  /**
   * Run `command` (after checking its `caller` may: `401`, `403`, or `404`
   * for a hidden session); `what` names it in the log when it fails unexpectedly.
   */
  async run(command: Command, what = 'request'): Promise<CommandReply> {
    try {
      await this.#access.check(this.core, command);
      const handler = COMMANDS[command.type] as Handler<CommandType>;
      return await handler(this.core, command, this.#options);
    } catch (error) {
      return errorReply(error, this.#options.logger, what);
    }
  }

  /** The reply for a failure that happened before a command could be decoded (bad route, body or frame). */
  fail(error: unknown, what = 'request'): Extract<CommandReply, { ok: false }> {
    return errorReply(error, this.#options.logger, what);
  }
}
