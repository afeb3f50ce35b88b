/** Authentication and authorization of every command, in one place all hosts share (HTTP, WebSocket, msw). */
import type { Command } from '../commands/command.js';
import { ServerError, sessionNotFound } from '../core/server-error.js';
import type { TetherCore } from '../core/tether-core.js';
import { clientIp } from './client-ip.js';
import { bearerToken, subprotocolToken } from './credentials.js';
import { ownerOrShared, type AuthAction, type Authenticate, type Authorize, type Caller } from './principal.js';

/** What a host knows of a request before any work: enough to authenticate it. */
export interface RequestView {
  method: string;
  url: string;
  /** Header values by lower-case name (repeated headers joined with `, `). */
  headers: Readonly<Record<string, string | undefined>>;
  /** The socket's peer address. */
  remoteAddress: string | undefined;
}

/** The options of {@link AccessControl}. */
export interface AccessControlOptions {
  authenticate?: Authenticate | undefined;
  authorize?: Authorize | undefined;
  trustProxy?: boolean | undefined;
}

// What each command asks of `authorize`; commands not listed concern no session.
// A command on a session that is missing here is refused (fail closed).
const ACTIONS: Partial<Record<string, AuthAction>> = {
  getSession: 'read',
  getTurn: 'read',
  subscribe: 'subscribe',
  poll: 'subscribe',
  prompt: 'prompt',
  cancel: 'cancel',
  respond: 'respond',
};

/**
 * Authenticates requests and authorizes commands. Without `authenticate`
 * every caller is anonymous and every command allowed (as before). With it,
 * a request without a principal is `401 unauthorized`, and each command on a
 * session asks `authorize` (default {@link ownerOrShared}); a session the
 * principal may not read answers `404 session_not_found` like an unknown one.
 */
export class AccessControl {
  readonly #authenticate: Authenticate | undefined;
  readonly #authorize: Authorize;
  readonly #trustProxy: boolean;

  constructor(options: AccessControlOptions = {}) {
    this.#authenticate = options.authenticate;
    this.#authorize = options.authorize ?? ownerOrShared;
    this.#trustProxy = options.trustProxy ?? false;
  }

  /** Whether requests are authenticated. */
  get enabled(): boolean {
    return this.#authenticate !== undefined;
  }

  /**
   * The caller of a request.
   *
   * @throws {ServerError} `401 unauthorized` when `authenticate` returns no principal
   */
  async authenticate(request: RequestView): Promise<Caller> {
    const ip = clientIp(request.remoteAddress, request.headers['x-forwarded-for'], this.#trustProxy);
    const authenticate = this.#authenticate;
    if (!authenticate) return ip === undefined ? {} : { ip };
    const token = bearerToken(request.headers.authorization) ?? subprotocolToken(request.headers['sec-websocket-protocol']);
    const principal = await authenticate({ method: request.method, url: request.url, headers: request.headers, ip, token });
    if (!principal || typeof principal.id !== 'string' || principal.id.length === 0) {
      throw new ServerError('unauthorized', 'Missing or invalid credentials', 401);
    }
    return ip === undefined ? { principal } : { principal, ip };
  }

  /**
   * Checks `command` against `authorize` before it runs.
   *
   * @throws {ServerError} `401 unauthorized` (no caller on an authenticated
   * server), `404 session_not_found` (unknown, or hidden from the caller),
   * `403 forbidden` (visible, but not this action)
   */
  async check(core: TetherCore, command: Command): Promise<void> {
    if (!this.#authenticate) return;
    const principal = command.caller?.principal;
    // A host that forgot to authenticate must not open the door.
    if (!principal) throw new ServerError('unauthorized', 'Missing or invalid credentials', 401);
    if (command.type === 'createSession') {
      if (!(await this.#authorize({ principal, action: 'create' }))) throw forbidden();
      return;
    }
    if (!('sessionId' in command)) return;
    const { sessionId } = command;
    const action = ACTIONS[command.type];
    if (action === undefined) throw forbidden();
    const session = await core.sessionAccess(sessionId);
    if (!session) throw sessionNotFound(sessionId);
    if (await this.#authorize({ principal, action, sessionId, session })) return;
    // No existence oracle: a session the caller may not even read is unknown to it.
    const canRead = action !== 'read' && (await this.#authorize({ principal, action: 'read', sessionId, session }));
    throw canRead ? forbidden() : sessionNotFound(sessionId);
  }
}

function forbidden(): ServerError {
  return new ServerError('forbidden', 'Not allowed', 403);
}
