/** The text of `agent-tether --help`. */
export const HELP = `agent-tether — keep apps attached to AI agent sessions

Usage:
  agent-tether serve [--port 4317] [--host 127.0.0.1] [--store <dir>]
                     [--log-level debug|info|warn|error] [--token <secret>]
                     [--allow-origin <origin>[,<origin>…]]
      Run the reference server with the demo agent. Sessions live in memory,
      or in <dir> with --store (created if missing). At --log-level info (the
      default) it logs one line per request and per finished turn.
      --token (or the AGENT_TETHER_TOKEN environment variable, which other
      users cannot read in the process list) turns authentication on: every
      request needs "Authorization: Bearer <secret>" (WebSockets: the
      agent-tether.bearer.<base64url> subprotocol). Without it the server
      answers anyone who reaches it: keep it on 127.0.0.1.
      --allow-origin lets pages of those origins call it from a browser.
      A prompt starting with "slow" streams for about 10 s, long enough to
      cancel it by hand. Ctrl-C (SIGINT) or SIGTERM closes it gracefully.

  agent-tether demo [--timeout <ms>]
      Start an embedded server behind a fault-injecting proxy and walk through
      a streamed turn, a cancel from another client, a cut connection that
      resumes, a fallback from WebSocket to SSE and a clean close.
      Exits 0 only when every step behaved.

  agent-tether --version    Print the installed version.
  agent-tether --help       Show this text.

Exit codes: 0 ok, 1 failure, 2 bad command line (including a --port, --host
or --store that cannot be used). Errors are one line on stderr; set
AGENT_TETHER_DEBUG=1 to add the stack of an unexpected one.
`;
