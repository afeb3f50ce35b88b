/**
 * A minimal HTTP/1.x request framer for the fault proxy. It follows the
 * client → server byte stream of one connection, finds each request head
 * (across keep-alive requests, skipping Content-Length and chunked bodies) and
 * hands the bytes on in segments, so the proxy can act on a request *before*
 * forwarding it (refuse a WebSocket upgrade, mark an SSE request).
 *
 * Not exported from `agent-tether/testing`. Anything that is not HTTP/1.x, and
 * everything after an upgrade request, passes through untouched ("opaque").
 * Pipelined requests are framed correctly; the proxy's SSE handling assumes
 * the client does not pipeline (no mainstream client does).
 */

/** One request head seen on a proxied connection. */
export interface ProxyRequest {
  /** Request method, e.g. `GET`. */
  readonly method: string;
  /** Request target as sent, e.g. `/v1/sessions/s1/events?after=3`. */
  readonly path: string;
  /** Header names lower-cased; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A run of bytes to forward, optionally starting with a complete request head. */
export interface SniffedSegment {
  readonly bytes: Buffer;
  /** Set when `bytes` is exactly one request head (request line, headers, blank line). */
  readonly request?: ProxyRequest;
}

/** Largest request head (or chunk-size / trailer line) the sniffer waits for before giving up. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

type State =
  | { kind: 'head' }
  | { kind: 'body'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'trailers' }
  | { kind: 'opaque' };

export class RequestSniffer {
  #state: State = { kind: 'head' };
  /** Bytes of an incomplete head or line, withheld until complete. */
  #pending: Buffer = Buffer.alloc(0);

  /** True once the stream is no longer being framed (upgrade, or not HTTP). */
  get opaque(): boolean {
    return this.#state.kind === 'opaque';
  }

  /**
   * Feeds the next bytes from the client. Returns the segments that may be
   * forwarded now, in order; the bytes of an incomplete request head are kept
   * back until the head is complete.
   */
  feed(chunk: Buffer): SniffedSegment[] {
    const out: SniffedSegment[] = [];
    let i = 0;
    let passStart = 0;
    const pass = (end: number) => {
      if (end > passStart) out.push({ bytes: chunk.subarray(passStart, end) });
      passStart = end;
    };

    while (i < chunk.length) {
      const state = this.#state;
      switch (state.kind) {
        case 'opaque':
          i = chunk.length;
          break;
        case 'body': {
          const n = Math.min(state.remaining, chunk.length - i);
          i += n;
          state.remaining -= n;
          if (state.remaining === 0) this.#state = { kind: 'head' };
          break;
        }
        case 'chunk-data': {
          // `remaining` includes the CRLF that ends the chunk's data.
          const n = Math.min(state.remaining, chunk.length - i);
          i += n;
          state.remaining -= n;
          if (state.remaining === 0) this.#state = { kind: 'chunk-size' };
          break;
        }
        case 'chunk-size':
        case 'trailers': {
          // Line-based states: the bytes pass through as they come; only the line is remembered.
          const nl = chunk.indexOf(0x0a, i);
          const end = nl === -1 ? chunk.length : nl + 1;
          this.#pending = Buffer.concat([this.#pending, chunk.subarray(i, end)]);
          i = end;
          if (nl === -1) {
            if (this.#pending.length > MAX_HEAD_BYTES) this.#becomeOpaque();
            break;
          }
          const line = this.#pending.toString('latin1').trim();
          this.#pending = Buffer.alloc(0);
          if (state.kind === 'trailers') {
            if (line === '') this.#state = { kind: 'head' };
          } else {
            const size = Number.parseInt(line.split(';', 1)[0] ?? '', 16);
            if (!Number.isFinite(size) || size < 0) this.#becomeOpaque();
            else if (size === 0) this.#state = { kind: 'trailers' };
            else this.#state = { kind: 'chunk-data', remaining: size + 2 };
          }
          break;
        }
        case 'head': {
          pass(i);
          const combined = Buffer.concat([this.#pending, chunk.subarray(i)]);
          if (!looksLikeRequestStart(combined)) {
            this.#pending = Buffer.alloc(0);
            this.#becomeOpaque();
            out.push({ bytes: combined });
            i = passStart = chunk.length;
            break;
          }
          const at = combined.indexOf(HEAD_END);
          if (at === -1) {
            if (combined.length > MAX_HEAD_BYTES) {
              this.#pending = Buffer.alloc(0);
              this.#becomeOpaque();
              out.push({ bytes: combined });
            } else {
              this.#pending = combined;
            }
            i = passStart = chunk.length;
            break;
          }
          const headBytes = combined.subarray(0, at + HEAD_END.length);
          i += headBytes.length - this.#pending.length;
          passStart = i;
          this.#pending = Buffer.alloc(0);
          const request = parseHead(headBytes);
          if (request === undefined) {
            this.#becomeOpaque();
            out.push({ bytes: headBytes });
            break;
          }
          out.push({ bytes: headBytes, request });
          this.#state = nextState(request);
          break;
        }
      }
    }
    pass(i);
    return out;
  }

  #becomeOpaque(): void {
    this.#state = { kind: 'opaque' };
  }
}

/** Could these bytes be the start of an HTTP request (optionally after stray CRLFs)? */
function looksLikeRequestStart(bytes: Buffer): boolean {
  let start = 0;
  while (start < bytes.length && (bytes[start] === 0x0d || bytes[start] === 0x0a)) start++;
  const prefix = bytes.subarray(start, start + 24).toString('latin1');
  return /^[A-Z-]{0,20}$/.test(prefix) || /^[A-Z-]{1,20} /.test(prefix);
}

function parseHead(bytes: Buffer): ProxyRequest | undefined {
  const lines = bytes.toString('latin1').replace(/^(\r\n)+/, '').split('\r\n');
  const match = /^([A-Z-]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { method: match[1]!, path: match[2]!, headers };
}

function nextState(request: ProxyRequest): State {
  const { headers, method } = request;
  if (method === 'CONNECT' || headers.upgrade !== undefined) return { kind: 'opaque' };
  const te = headers['transfer-encoding'];
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return { kind: 'chunk-size' };
  if (te !== undefined) return { kind: 'opaque' }; // body runs to the end of the connection
  const length = headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    if (!Number.isSafeInteger(n) || n < 0) return { kind: 'opaque' };
    return n === 0 ? { kind: 'head' } : { kind: 'body', remaining: n };
  }
  return { kind: 'head' };
}

/** Is this an HTTP request asking to become a WebSocket? */
export function isWebSocketUpgrade(request: ProxyRequest): boolean {
  return (request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** Is this a request for a Server-Sent Events stream (by `Accept`, or the protocol's `/events` route)? */
export function isSseRequest(request: ProxyRequest): boolean {
  if (request.method !== 'GET') return false;
  if ((request.headers.accept ?? '').toLowerCase().includes('text/event-stream')) return true;
  const pathname = request.path.split('?', 1)[0] ?? '';
  return pathname.endsWith('/events');
}
