#!/usr/bin/env node
// A terminal chat bot on agent-tether.
//
//   npx agent-tether serve                       # in one terminal
//   node examples/terminal-chat/chat.mjs         # in another
//
// Type a prompt and press Enter: the reply streams in as it is generated.
// Ctrl-C cancels the running turn; a second Ctrl-C quits. When the connection
// drops, the bot says so, reconnects on its own and carries on where it was.
// When the server no longer knows the session (it restarted, or the session
// expired), the bot says so and `/new` starts a fresh one.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClient } from 'agent-tether';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:4317' },
    session: { type: 'string' },
  },
});

/** Whether the cursor sits inside a reply's line: a status line then breaks it, and the reply resumes under `agent › …`. */
let replyLine = 'closed';
const say = (line) => {
  if (replyLine === 'open') {
    process.stdout.write('\n');
    replyLine = 'broken';
  }
  process.stdout.write(`${line}\n`);
};
/** Writes a piece of the reply; the `agent › ` prefix comes with its first piece, so a status line printed before it stays apart. */
const writeReply = (text) => {
  if (replyLine !== 'open') process.stdout.write(replyLine === 'broken' ? 'agent › …' : 'agent › ');
  replyLine = 'open';
  process.stdout.write(text);
};

const clientId = crypto.randomUUID();
const client = createClient({ baseUrl: args.url, clientId, reconnect: { initialDelayMs: 200, maxDelayMs: 5_000 } });

// Connection state, as the SDK reports it: `reconnecting` is "offline, trying
// again" — the session and its turns carry on server-side meanwhile.
client.on('state', (state, prev) => {
  if (state.status === 'reconnecting' && prev.status !== 'reconnecting') {
    say(`[offline — reconnecting (attempt ${state.attempt})]`);
  } else if (state.status === 'open' && prev.status === 'reconnecting') {
    say(`[back online over ${state.transport}]`);
  } else if (state.status === 'open' && prev.status === 'connecting') {
    say(`[connected over ${state.transport}]`);
  }
});

let session;
try {
  session = args.session ? client.session(args.session) : await client.createSession();
} catch (error) {
  say(`cannot reach ${args.url}: ${error.message}`);
  await client.close();
  process.exit(1);
}
say(`session ${session.id} — type a prompt and press Enter. Ctrl-C cancels a reply; Ctrl-C twice quits.`);

/** The server answered that the session is gone: an answer, not an outage (the SDK does not retry it). */
const sessionGone = (error) => error?.code === 'session_not_found';
const offerNewSession = () => say(`[session ${session.id} no longer exists on the server — type /new to start a new session]`);

// Watching the whole session keeps the connection up between turns (so a drop
// shows up at once) and shows prompts other clients send to this session.
let watch;
function startWatching() {
  const subscription = (watch = session.subscribe());
  (async () => {
    for await (const event of subscription) {
      if (event.type === 'turn.queued' && event.clientId !== clientId) {
        say(`[someone else asked: ${event.prompt}]`);
      }
    }
  })().catch((error) => (sessionGone(error) ? offerNewSession() : say(`[stopped watching the session: ${error.message}]`)));
}
startWatching();

/** The turn being streamed now, if any. */
let current;
/** Whether the next Ctrl-C quits. */
let armed = false;
let quitting = false;

async function quit() {
  if (quitting) return;
  quitting = true;
  rl.close();
  watch.close();
  await client.close(); // graceful: closes the socket with 1000, clears every timer
  say('bye');
  process.exit(0);
}

function interrupt() {
  if (armed) return void quit();
  armed = true;
  if (current && !current.canceling) {
    current.canceling = true;
    say('^C — canceling this reply (Ctrl-C again quits)');
    current.turn.cancel().catch((error) => say(`[cancel failed: ${error.message}]`));
  } else {
    say('\n^C — press Ctrl-C again to quit');
  }
}

const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
rl.setPrompt('you › ');
// In a terminal readline turns Ctrl-C into its own event; with piped input it
// is a real signal. Handle both the same way.
rl.on('SIGINT', interrupt);
process.on('SIGINT', interrupt);

const showPrompt = () => {
  if (process.stdin.isTTY) rl.prompt();
};
showPrompt();

for await (const line of rl) {
  const prompt = line.trim();
  if (prompt === '') {
    showPrompt();
    continue;
  }
  armed = false;
  if (prompt === '/new') {
    try {
      watch.close();
      session = await client.createSession();
      startWatching();
      say(`session ${session.id} — a new session; type a prompt and press Enter.`);
    } catch (error) {
      say(`[could not start a new session: ${error.message}]`);
    }
    showPrompt();
    continue;
  }
  try {
    const turn = await session.prompt(prompt);
    current = { turn, canceling: false };
    for await (const event of turn) {
      if (event.type === 'turn.delta') writeReply(event.text);
    }
    const end = await turn.result; // settles exactly once, never rejects
    if (quitting) break;
    if (replyLine === 'open') process.stdout.write('\n');
    replyLine = 'closed';
    if (end.type === 'turn.completed') say('[done]');
    else if (end.type === 'turn.canceled') say(`[canceled by ${end.canceledBy === clientId ? 'you' : end.canceledBy}]`);
    else if (sessionGone(end.error)) offerNewSession();
    else say(`[error ${end.error.code}: ${end.error.message}]`);
  } catch (error) {
    if (quitting) break;
    if (sessionGone(error)) offerNewSession();
    else say(`[could not send: ${error.message}]`);
  } finally {
    current = undefined;
  }
  showPrompt();
}

// End of input (Ctrl-D, or the pipe closed): every turn has finished.
if (!quitting) await quit();
