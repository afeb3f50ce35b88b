import { parseArgs } from 'node:util';

/** Options of `agent-tether serve`. */
export interface ServeOptions {
  /** @default 4317 */
  port: number;
  /** @default '127.0.0.1' */
  host: string;
  /** A directory for `fileStore`; in memory when absent. */
  store?: string | undefined;
}

/** Options of `agent-tether demo`. */
export interface DemoCommandOptions {
  /** The watchdog: the demo fails if it has not finished by then. @default 30_000 */
  timeoutMs: number;
}

/** What the command line asks for. */
export type CommandLine =
  | { command: 'help' }
  | { command: 'usage-error'; message: string }
  | { command: 'serve'; options: ServeOptions }
  | { command: 'demo'; options: DemoCommandOptions };

/** Defaults of `serve`. */
export const SERVE_DEFAULTS = { port: 4317, host: '127.0.0.1' } as const satisfies Omit<ServeOptions, 'store'>;
/** Defaults of `demo`. */
export const DEMO_DEFAULTS = { timeoutMs: 30_000 } as const satisfies DemoCommandOptions;

const COMMANDS = ['serve', 'demo'] as const;

/**
 * Parses `argv` (without `node` and the script). Never throws: a bad command
 * line comes back as `usage-error` with a message naming what was wrong.
 *
 * @example
 * parseCommandLine(['serve', '--port', '0']); // { command: 'serve', options: { port: 0, host: '127.0.0.1' } }
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { command: 'help' };
  if (!(COMMANDS as readonly string[]).includes(first)) {
    return first.startsWith('-')
      ? { command: 'usage-error', message: `expected a command before ${first} (one of: ${COMMANDS.join(', ')})` }
      : { command: 'usage-error', message: `unknown command "${first}" (expected one of: ${COMMANDS.join(', ')})` };
  }
  try {
    return first === 'serve' ? parseServe(rest) : parseDemo(rest);
  } catch (error) {
    // node:util parseArgs reports unknown flags, missing values and stray
    // positionals as TypeErrors with readable messages.
    return { command: 'usage-error', message: error instanceof Error ? error.message : String(error) };
  }
}

function parseServe(argv: string[]): CommandLine {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { command: 'help' };
  const port = values.port === undefined ? SERVE_DEFAULTS.port : Number(values.port);
  if (values.port !== undefined && (!/^\d+$/.test(values.port) || port > 65_535)) {
    return { command: 'usage-error', message: `--port must be an integer from 0 to 65535, got "${values.port}"` };
  }
  if (values.host !== undefined && values.host.trim() === '') {
    return { command: 'usage-error', message: '--host must not be empty' };
  }
  if (values.store !== undefined && values.store.trim() === '') {
    return { command: 'usage-error', message: '--store must name a directory' };
  }
  return {
    command: 'serve',
    options: { port, host: values.host ?? SERVE_DEFAULTS.host, store: values.store },
  };
}

function parseDemo(argv: string[]): CommandLine {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: { timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return { command: 'help' };
  const timeoutMs = values.timeout === undefined ? DEMO_DEFAULTS.timeoutMs : Number(values.timeout);
  if (values.timeout !== undefined && (!/^\d+$/.test(values.timeout) || timeoutMs < 1000)) {
    return { command: 'usage-error', message: `--timeout must be a number of milliseconds ≥ 1000, got "${values.timeout}"` };
  }
  return { command: 'demo', options: { timeoutMs } };
}
