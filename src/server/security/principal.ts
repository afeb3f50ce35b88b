/** Who is calling: the principal an `authenticate` hook returns, and the caller every command carries. */

/**
 * An authenticated identity, as your `authenticate` hook returns it. `id` is
 * what the server records (session `owner`, `turn.canceled.canceledBy`,
 * `turn.queued.clientId`); any other field is yours (roles, tenant, …) and
 * reaches your `authorize` hook untouched.
 *
 * @example
 * const principal: Principal = { id: 'user-42', role: 'admin' };
 */
export interface Principal {
  id: string;
  [key: string]: unknown;
}

/**
 * What `authenticate` sees of a request (HTTP, SSE, long-poll or the
 * WebSocket upgrade). `token` is already taken from `Authorization: Bearer`
 * or from the `agent-tether.bearer.<base64url>` WebSocket subprotocol.
 * Header names are lower case.
 */
export interface AuthRequest {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | undefined>>;
  /** The client's address (`X-Forwarded-For` only with `trustProxy`). */
  ip: string | undefined;
  token: string | undefined;
}

/**
 * Decides who sent a request: a {@link Principal}, or `null` for `401
 * unauthorized`. Throwing a `ServerError` answers with it; any other throw is
 * a `500` (logged). Runs before any other work on every request and before a
 * WebSocket opens.
 *
 * @example
 * const authenticate: Authenticate = ({ token }) => (token === process.env.TOKEN ? { id: 'me' } : null);
 */
export type Authenticate = (request: AuthRequest) => Principal | null | undefined | Promise<Principal | null | undefined>;

/** The session actions `authorize` decides on. `respond` answers an agent's input request. */
export type AuthAction = 'create' | 'read' | 'subscribe' | 'prompt' | 'cancel' | 'respond';

/** Who may see a session: from its stored record. */
export interface SessionAccess {
  /** The principal that created the session (absent for sessions created without authentication). */
  owner?: string;
  /** Other principals the session is shared with. */
  sharedWith?: string[];
}

/** What `authorize` is asked. `session` is absent for `create`. */
export interface AuthorizeRequest {
  principal: Principal;
  action: AuthAction;
  sessionId?: string;
  session?: SessionAccess;
}

/**
 * May `principal` do `action` on the session? `false` on a session the
 * principal may not `read` answers `404 session_not_found`, exactly like an
 * unknown one (no existence oracle); `false` for another action on a session
 * it may read answers `403 forbidden`.
 *
 * @default {@link ownerOrShared}, once `authenticate` is set
 */
export type Authorize = (request: AuthorizeRequest) => boolean | Promise<boolean>;

/**
 * The caller of a command: the principal (when the server authenticates) and
 * the address it came from. The caller's own label (`clientId`) travels on
 * the command; it names a connection, it is not an identity.
 */
export interface Caller {
  principal?: Principal;
  ip?: string;
}

/**
 * The default {@link Authorize}: a principal acts on the sessions it created
 * and on those shared with it (`SessionRecord.sharedWith`, set at creation
 * or by `server.shareSession`). Anyone authenticated may create a session.
 *
 * @example
 * createServer({ agent, authenticate, authorize: (r) => r.principal.role === 'admin' || ownerOrShared(r) });
 */
export function ownerOrShared({ principal, action, session }: AuthorizeRequest): boolean {
  if (action === 'create') return true;
  if (!session) return false;
  return session.owner === principal.id || (session.sharedWith?.includes(principal.id) ?? false);
}
