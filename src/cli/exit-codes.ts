/** Exit codes of the `agent-tether` command. */
export const EXIT = {
  /** Everything behaved. */
  ok: 0,
  /** A command ran and failed (a demo step misbehaved, the server could not start). */
  failure: 1,
  /** The command line was wrong. */
  usage: 2,
} as const;
