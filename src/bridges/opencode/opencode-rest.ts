/** OpenCodeRest: OpenCode's REST calls the bridge makes, each bounded by a timeout. */

/** A REST call OpenCode answered with an error status (or not at all). */
export class OpenCodeRequestError extends Error {
  override name = 'OpenCodeRequestError';
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** A message of `GET /session/:id/message`. */
export interface OpenCodeMessage {
  info: Record<string, unknown> & { id: string; role: string; parentID?: string };
  parts: (Record<string, unknown> & { id: string; type: string })[];
}

/** The few REST calls of OpenCode's legacy API the bridge uses. */
export class OpenCodeRest {
  #base: string;
  #timeoutMs: number;

  constructor(baseUrl: string, timeoutMs: number) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new OpenCodeRequestError(`${method} ${path} failed: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) throw new OpenCodeRequestError(`${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`, response.status);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  createSession(title: string): Promise<{ id: string }> {
    return this.call('POST', '/session', { title });
  }

  /** Whether the session is running a prompt (`busy`, `retry`) right now. */
  async busy(sessionId: string): Promise<boolean> {
    const statuses = await this.call<Record<string, { type: string }>>('GET', '/session/status');
    const type = statuses?.[sessionId]?.type;
    return type !== undefined && type !== 'idle';
  }

  /** Answers 204 even when the prompt later fails: acceptance is confirmed separately. */
  promptAsync(sessionId: string, messageID: string, text: string): Promise<void> {
    return this.call('POST', `/session/${sessionId}/prompt_async`, { messageID, parts: [{ type: 'text', text }] });
  }

  messages(sessionId: string): Promise<OpenCodeMessage[]> {
    return this.call('GET', `/session/${sessionId}/message`);
  }

  /** Session-wide, and answers `true` whatever happened: call it only for the prompt known to be running. */
  abort(sessionId: string): Promise<unknown> {
    return this.call('POST', `/session/${sessionId}/abort`);
  }

  reply(sessionId: string, permissionId: string, response: string): Promise<unknown> {
    return this.call('POST', `/session/${sessionId}/permissions/${permissionId}`, { response });
  }
}
