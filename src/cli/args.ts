/** The `agent-tether` command line, parsed into a command or one usage-error line. */
import { parseArgs } from 'node:util';
import type { LogLevel } from '../logging/logger.js';

/** Options of `agent-tether serve`. */
export interface ServeOptions {
  /** @default 4317 */
  port: number;
  /** @default '127.0.0.1' */
  host: string;
  /** A directory for `fileStore`; in memory when absent. */
  store?: string | undefined;
  /** What the server logs: one line per request and per finished turn at `info`. @default 'info' */
  logLevel: LogLevel;
  /** A shared secret every client must send as `Authorization: Bearer` (or the WebSocket bearer subprotocol); no authentication when absent. */
  token?: string | undefined;
  /** Origins of pages allowed to call the server (CORS, WebSocket `Origin`), comma-separated on the command line. */
  allowOrigins?: string[] | undefined;
}

/** Options of `agent-tether demo`. */
export interface DemoCommandOptions {
  /** The watchdog: the demo fails if it has not finished by then. @default 30_000 */
  timeoutMs: number;
}

/** What the command line asks for. */
export type CommandLine =
  | { command: 'help' }
  | { command: 'version' }
  | { command: 'usage-error'; message: string }
  | { command: 'serve'; options: ServeOptions }
  | { command: 'demo'; options: DemoCommandOptions };

/** Defaults of `serve`. */
export const SERVE_DEFAULTS = {
  port: 4317,
  host: '127.0.0.1',
  logLevel: 'info',
} as const satisfies Omit<ServeOptions, 'store'>;
/** Defaults of `demo`. */
export const DEMO_DEFAULTS = { timeoutMs: 30_000 } as const satisfies DemoCommandOptions;

const COMMANDS = ['serve', 'demo'] as const;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A command's flags: `string` ones take a value, shown in messages as `hint`. */
type Flags = Record<string, { type: 'string'; short?: string; hint: string } | { type: 'boolean'; short?: string }>;

const SERVE_FLAGS = {
  port: { type: 'string', short: 'p', hint: '<port>' },
  host: { type: 'string', hint: '<host>' },
  store: { type: 'string', hint: '<dir>' },
  'log-level': { type: 'string', hint: LOG_LEVELS.join('|') },
  token: { type: 'string', hint: '<secret>' },
  'allow-origin': { type: 'string', hint: '<origin>[,<origin>…]' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Flags;

/** Shortest `--token` accepted: a shared secret anyone could guess protects nothing. */
export const MIN_TOKEN_LENGTH = 16;

const DEMO_FLAGS = {
  timeout: { type: 'string', hint: '<ms>' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Flags;

/** A line for the user; thrown inside this file only, returned as `usage-error`. */
class UsageError extends Error {}

/**
 * Parses `argv` (without `node` and the script). Never throws: a bad command
 * line comes back as `usage-error` with one line naming what was wrong, in
 * this command's words (Node's own parser messages never reach the user).
 *
 * @example
 * parseCommandLine(['serve', '--port', '0']); // { command: 'serve', options: { port: 0, host: '127.0.0.1', logLevel: 'info' } }
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { command: 'help' };
  if (first === '--version' || first === '-v' || first === 'version') {
    return rest.length === 0 ? { command: 'version' } : usage(`${first} takes no arguments`);
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    return first.startsWith('-')
      ? usage(`expected a command before ${first} (one of: ${COMMANDS.join(', ')})`)
      : usage(`unknown command "${first}" (expected one of: ${COMMANDS.join(', ')})`);
  }
  try {
    return first === 'serve' ? parseServe(rest) : parseDemo(rest);
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
}

function usage(message: string): CommandLine {
  return { command: 'usage-error', message };
}

function parseServe(argv: readonly string[]): CommandLine {
  const values = readFlags(argv, SERVE_FLAGS);
  if (values.help) return { command: 'help' };
  const { port: portText, host, store } = values;
  const logLevel = values['log-level'] ?? SERVE_DEFAULTS.logLevel;
  const port = portText === undefined ? SERVE_DEFAULTS.port : Number(portText);
  if (portText !== undefined && (!/^\d+$/.test(portText) || port > 65_535)) {
    throw new UsageError(`--port must be an integer from 0 to 65535, got "${portText}"`);
  }
  if (host !== undefined && host.trim() === '') throw new UsageError('--host must not be empty');
  if (store !== undefined && store.trim() === '') throw new UsageError('--store must name a directory');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const { token } = values;
  if (token !== undefined && (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))) {
    throw new UsageError(`--token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
  }
  const allowOrigins = values['allow-origin']?.split(',').map((origin) => origin.trim());
  for (const origin of allowOrigins ?? []) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new UsageError(`--allow-origin takes origins like https://app.example.com, got "${origin}"`);
  }
  return {
    command: 'serve',
    options: {
      port,
      host: host ?? SERVE_DEFAULTS.host,
      store,
      logLevel: logLevel as LogLevel,
      ...(token === undefined ? {} : { token }),
      ...(allowOrigins === undefined ? {} : { allowOrigins }),
    },
  };
}

function parseDemo(argv: readonly string[]): CommandLine {
  const values = readFlags(argv, DEMO_FLAGS);
  if (values.help) return { command: 'help' };
  const timeoutMs = values.timeout === undefined ? DEMO_DEFAULTS.timeoutMs : Number(values.timeout);
  if (values.timeout !== undefined && (!/^\d+$/.test(values.timeout) || timeoutMs < 1000)) {
    throw new UsageError(`--timeout must be a whole number of milliseconds, at least 1000, got "${values.timeout}"`);
  }
  return { command: 'demo', options: { timeoutMs } };
}

type Values<F extends Flags> = {
  [K in keyof F]?: F[K] extends { type: 'boolean' } ? boolean : string;
};

/**
 * Reads `argv` against `flags`. node:util's parser runs in its lenient mode
 * and only splits tokens; every judgement (unknown flag, missing value, stray
 * argument) is made here, so `--timeout -5` is read as the value "-5" and
 * checked like any other, and no Node message wording leaks.
 */
function readFlags<F extends Flags>(argv: readonly string[], flags: F): Values<F> {
  const { tokens } = parseArgs({ args: [...argv], options: flags, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') throw new UsageError(`unexpected argument "${token.value}"`);
    const flag = Object.hasOwn(flags, token.name) ? flags[token.name] : undefined;
    if (flag === undefined) throw new UsageError(`unknown option ${token.rawName}`);
    if (flag.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      values[token.name] = true;
      continue;
    }
    // In lenient mode the next word is taken as the value even when it is another flag.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new UsageError(`${token.rawName} needs a value: ${token.rawName} ${flag.hint}`);
    }
    values[token.name] = token.value;
  }
  return values as Values<F>;
}
