/** The msw HTTP handler: every protocol route, decoded and answered by the reference server's dispatcher. */
import type { RequestHandler } from 'msw';
import { systemClock, sleep } from '../../internal/clock.js';
import { API_PREFIX, limits } from '../../protocol/index.js';
import { serveHttpCommand, type HttpCommandRequest } from '../../server/commands/http-command.js';
import { parseJsonBody, payloadTooLarge } from '../../server/commands/json-body.js';
import { jsonResponse, type MswHost } from './msw-host.js';
import { mswModule } from './msw-module.js';
import { sseResponse } from './sse-response.js';

/**
 * One handler for everything under `<base>/v1/`: the same routes, bodies,
 * errors and durable acknowledgements as the Node host, because both decode
 * with the same functions and run the same command table.
 */
export function httpHandlers(host: MswHost): RequestHandler[] {
  const { http } = mswModule();
  const basePath = new URL(`${host.base}/`).pathname.slice(0, -1);
  return [
    http.all(`${host.base}${API_PREFIX}/*`, async ({ request }) => {
      // Preflights are the browser's business, as with any handler left unmatched.
      if (request.method === 'OPTIONS') return undefined;
      return serve(host, request, basePath);
    }),
  ];
}

async function serve(host: MswHost, request: Request, basePath: string): Promise<Response> {
  await host.started;
  const url = new URL(request.url);
  const served = await serveHttpCommand(host.dispatcher, request.method, url.pathname.slice(basePath.length), fetchRequest(request, url), {
    beforeCommand() {
      const injected = host.faults.takeFailure();
      if (injected) throw injected;
    },
    async run(command) {
      if (command.type === 'poll' && host.faults.slowMs > 0) await sleep(systemClock, host.faults.slowMs, request.signal);
      return host.dispatcher.run(command);
    },
  });
  if ('stream' in served) return sseResponse(host, request, served.stream);
  const { reply } = served;
  return jsonResponse(reply.status, reply.json, reply.ok ? {} : reply.headers);
}

function fetchRequest(request: Request, url: URL): HttpCommandRequest {
  return {
    url,
    header: (name) => request.headers.get(name) ?? undefined,
    headers: Object.fromEntries(request.headers),
    async json() {
      const text = await request.text();
      if (new TextEncoder().encode(text).length > limits.maxFrameBytes) throw payloadTooLarge(limits.maxFrameBytes);
      return parseJsonBody(text, request.headers.get('content-type') ?? undefined);
    },
    signal: request.signal,
  };
}
