/** The Node HTTP host: a request → the dispatcher's command (or a stream) → the reply, one log line each. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Command, CommandReply } from '../commands/command.js';
import { serveHttpCommand, type HttpCommandRequest } from '../commands/http-command.js';
import { limitKey } from '../limits/client-key.js';
import { readJsonBody } from './body.js';
import type { HostContext } from './context.js';
import { sendReply } from './respond.js';
import { requestUrl } from './request-url.js';
import { serveSse } from './sse.js';
import { flatHeaders } from './request-headers.js';

/**
 * Serve one HTTP request. Every failure becomes a JSON error reply; nothing
 * here may reject into the void. Logs one `info` line when the response ends.
 * The client's limits are checked before a command runs and before a stream
 * opens (429 + `Retry-After`); an SSE stream and a long-poll each hold one of
 * its connections until they end.
 */
export async function handleRequest(ctx: HostContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { clock, logger } = ctx.options;
  const started = clock.now();
  const url = requestUrl(req.url);
  const method = req.method ?? 'GET';
  res.once('close', () => {
    logger.info?.({ method, path: url.pathname, status: res.statusCode, ms: clock.now() - started }, 'agent-tether: request');
  });
  const origin = req.headers.origin;
  const cors = ctx.origins.corsHeaders(origin, req.headers.host);
  if (ctx.options.cors && method === 'OPTIONS') {
    const preflight = ctx.origins.preflightHeaders(origin, req.headers.host);
    if (preflight) {
      res.writeHead(204, preflight);
      res.end();
      return;
    }
  }
  try {
    // A page of another site gets nothing done here, not even with the user's cookies.
    ctx.origins.check(origin, req.headers.host);
  } catch (error) {
    return sendReply(res, ctx.dispatcher.fail(error), cors);
  }
  const served = await serveHttpCommand(ctx.dispatcher, method, url.pathname, nodeRequest(req, res, url, ctx.options), {
    run: async (command) => {
      const key = limitKey(command.caller, req.socket.remoteAddress);
      await ctx.limits.admit(command, key);
      return command.type === 'poll' ? trackPoll(ctx, command, key) : ctx.dispatcher.run(command);
    },
  });
  if (!('stream' in served)) return sendReply(res, served.reply, cors);
  try {
    // One of the caller's connections while the stream lasts (429 when over).
    res.once('close', ctx.limits.openConnection(limitKey(served.caller, req.socket.remoteAddress)));
    serveSse(ctx, req, res, served.stream, cors);
  } catch (error) {
    sendReply(res, ctx.dispatcher.fail(error), cors);
  }
}

/** A long-poll is answered before the server closes: the host keeps it in `ctx.polls`. */
async function trackPoll(ctx: HostContext, command: Command, key: string): Promise<CommandReply> {
  const release = ctx.limits.openConnection(key);
  const polled = ctx.dispatcher.run(command);
  ctx.polls.add(polled);
  try {
    return await polled;
  } finally {
    ctx.polls.delete(polled);
    release();
  }
}

function nodeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  { maxFrameBytes, maxJsonDepth }: { maxFrameBytes: number; maxJsonDepth: number },
): HttpCommandRequest {
  let signal: AbortSignal | undefined;
  return {
    url,
    header(name) {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    },
    headers: flatHeaders(req.headers),
    remoteAddress: req.socket.remoteAddress,
    json: () => readJsonBody(req, maxFrameBytes, maxJsonDepth),
    get signal() {
      if (!signal) {
        const controller = new AbortController();
        res.on('close', () => controller.abort());
        signal = controller.signal;
      }
      return signal;
    },
  };
}
