// The browser chat: plain DOM, no framework, the agent-tether ESM bundle.
// Everything on screen is rendered from the session's event stream, so a
// reload, a second tab or a dropped connection all show the same transcript.
import { createClient } from './agent-tether.js';

const params = new URLSearchParams(location.search);
// The agent server: `npx agent-tether serve` by default, or `?api=<url>`.
// It is another origin than the page; the reference server allows CORS.
const baseUrl = params.get('api') ?? 'http://127.0.0.1:4317';
// Credentials for a server started with `--token`: `#token=<secret>&user=<id>` in
// the URL's fragment, which the browser never sends anywhere (a real app gets
// them from its login). The SDK sends the token on every transport: a header
// on HTTP, SSE and long-poll, a WebSocket subprotocol (browsers cannot set
// headers there); the function is asked again on every reconnect.
const credentials = new URLSearchParams(location.hash.slice(1));
const token = credentials.get('token') ?? undefined;
// Our own id, so the transcript can say "you" (randomUUID needs a secure context).
// With authentication the server names us by our user id instead.
const myId = credentials.get('user') ?? globalThis.crypto?.randomUUID?.() ?? `web-${Math.random().toString(36).slice(2)}`;
// `?transports=sse,poll` narrows the ladder (default: websocket, then sse, then poll).
const transports = params.get('transports')?.split(',') ?? undefined;
const client = createClient({
  baseUrl,
  clientId: myId,
  transports,
  reconnect: { initialDelayMs: 250, maxDelayMs: 5_000 },
  ...(token && { token: () => token }),
});
addEventListener('pagehide', () => void client.close());

const $ = (id) => document.getElementById(id);
const notice = (text) => {
  $('notice').textContent = text;
};

/**
 * The server no longer knows this session (it restarted, or the session
 * expired): the SDK ends the subscription with `session_not_found` instead of
 * reconnecting. Say so, and offer a fresh session.
 */
const offerNewSession = () => {
  notice(`Session ${session.id} no longer exists on the server. `);
  const button = document.createElement('button');
  button.id = 'new-session';
  button.type = 'button';
  button.textContent = 'Start a new session';
  button.addEventListener('click', () => {
    params.delete('session');
    location.search = `?${params}`;
  });
  $('notice').append(button);
};
const sessionGone = (error) => error?.code === 'session_not_found';
/** The server refused our credentials: the SDK stops instead of retrying; say so. */
const refused = (error) => error?.code === 'unauthorized' || error?.code === 'forbidden';
const refusedNotice = (error) =>
  notice(`The agent server refused ${error.code === 'unauthorized' ? 'your credentials' : 'this'} (${error.code}). Open the page with #token=<your token>.`);

/* ── connection indicator ─────────────────────────────────────────────── */

const describeState = (state) => {
  switch (state.status) {
    case 'open':
      return `● online (${state.transport})`;
    case 'connecting':
      return '◌ connecting…';
    case 'reconnecting':
      return `◌ reconnecting (attempt ${state.attempt})…`;
    case 'closed':
      return '○ offline';
    default:
      return '○ idle';
  }
};
const showState = (state) => {
  $('status').dataset.status = state.status;
  $('status').dataset.transport = state.transport ?? '';
  $('status').textContent = describeState(state);
  const entry = document.createElement('li');
  entry.dataset.status = state.status;
  entry.textContent = `${new Date().toLocaleTimeString()} ${describeState(state)}`;
  $('connection-log').append(entry);
};
client.on('state', showState);
showState(client.state);

/* ── transcript ───────────────────────────────────────────────────────── */

/** turnId → { el, reply, end, state } */
const turns = new Map();

const turnView = (turnId, prompt = '', from = '') => {
  let view = turns.get(turnId);
  if (view) return view;
  const el = document.createElement('article');
  el.className = 'turn';
  el.dataset.turnId = turnId;
  el.dataset.state = 'queued';
  const head = document.createElement('p');
  head.className = 'prompt';
  head.textContent = `${from === myId ? 'you' : from || 'someone'} › ${prompt}`;
  const reply = document.createElement('p');
  reply.className = 'reply';
  const end = document.createElement('p');
  end.className = 'end';
  el.append(head, reply, end);
  $('transcript').append(el);
  view = { el, reply, end, state: 'queued' };
  turns.set(turnId, view);
  return view;
};

const setState = (view, state, text = '') => {
  view.state = state;
  view.el.dataset.state = state;
  view.end.textContent = text;
  updateStop();
};

/** The turn Stop cancels: the running one, else the oldest queued one. */
const stoppable = () => {
  const open = [...turns.entries()].filter(([, v]) => v.state === 'running' || v.state === 'queued');
  return (open.find(([, v]) => v.state === 'running') ?? open[0])?.[0];
};
const updateStop = () => {
  $('stop').disabled = stoppable() === undefined;
};

const render = (event) => {
  if (event.type === 'session.reset') {
    notice('Part of this session’s history is gone; showing what is left, then live events.');
    return;
  }
  if (!event.turnId) return; // an event type from a newer server: ignore it
  switch (event.type) {
    case 'turn.queued':
      turnView(event.turnId, event.prompt, event.clientId);
      break;
    case 'turn.started':
      setState(turnView(event.turnId), 'running', 'streaming…');
      break;
    case 'turn.delta':
      turnView(event.turnId).reply.textContent += event.text;
      break;
    case 'turn.completed':
      setState(turnView(event.turnId), 'completed', 'done');
      break;
    case 'turn.canceled': {
      const who = event.canceledBy === myId ? 'you' : event.canceledBy;
      setState(turnView(event.turnId), 'canceled', `canceled by ${who}`);
      break;
    }
    case 'turn.error':
      setState(turnView(event.turnId), 'error', `error: ${event.error.code} — ${event.error.message}`);
      break;
  }
};

/* ── session, prompt, stop ────────────────────────────────────────────── */

let session;
try {
  const existing = params.get('session');
  session = existing ? client.session(existing) : await client.createSession();
  if (!existing) {
    // Keep the session in the URL: a reload (or a second tab) rejoins it.
    params.set('session', session.id);
    history.replaceState(null, '', `?${params}`);
  }
  $('session').textContent = `session ${session.id}`;
} catch (error) {
  if (refused(error)) refusedNotice(error);
  else notice(`Cannot reach the agent server at ${baseUrl}: ${error.message}`);
  throw error;
}

(async () => {
  for await (const event of session.subscribe()) render(event);
})().catch((error) =>
  sessionGone(error) ? offerNewSession() : refused(error) ? refusedNotice(error) : notice(`Stopped following the session: ${error.message}`),
);

$('prompt-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = $('prompt').value.trim();
  if (!text) return;
  $('prompt').value = '';
  notice('');
  try {
    // Resolves once the server accepted it; the subscription renders the rest.
    await session.prompt(text);
  } catch (error) {
    if (sessionGone(error)) offerNewSession();
    else if (refused(error)) refusedNotice(error);
    else notice(`Could not send: ${error.message}`);
    $('prompt').value = text;
  }
});

$('stop').addEventListener('click', async () => {
  const turnId = stoppable();
  if (!turnId) return;
  $('stop').disabled = true;
  try {
    const reply = await session.turn(turnId).cancel();
    // Someone else may have ended it first; that is an answer, not an error.
    if (!reply.cancelled) notice(`That turn had already finished (${reply.reason}).`);
  } catch (error) {
    notice(`Could not stop: ${error.message}`);
  } finally {
    updateStop();
  }
});
