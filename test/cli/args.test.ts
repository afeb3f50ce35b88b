import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';

describe('parseCommandLine', () => {
  it('asks for help with no arguments, help, -h or --help', () => {
    for (const argv of [[], ['help'], ['-h'], ['--help'], ['serve', '--help'], ['demo', '-h']]) {
      expect(parseCommandLine(argv)).toEqual({ command: 'help' });
    }
  });

  it('gives serve its defaults', () => {
    expect(parseCommandLine(['serve'])).toEqual({
      command: 'serve',
      options: { port: 4317, host: '127.0.0.1', store: undefined, logLevel: 'info' },
    });
  });

  it('reads --port, --host, --store and --log-level', () => {
    expect(
      parseCommandLine(['serve', '--port', '0', '--host', '0.0.0.0', '--store', './sessions', '--log-level', 'debug']),
    ).toEqual({
      command: 'serve',
      options: { port: 0, host: '0.0.0.0', store: './sessions', logLevel: 'debug' },
    });
    expect(parseCommandLine(['serve', '--port=8080'])).toMatchObject({ options: { port: 8080 } });
    expect(parseCommandLine(['serve', '-p', '9'])).toMatchObject({ options: { port: 9 } });
    expect(parseCommandLine(['serve', '--', '--store=x'])).toMatchObject({ command: 'usage-error' });
  });

  it('answers --version, -v and version', () => {
    for (const argv of [['--version'], ['-v'], ['version']]) expect(parseCommandLine(argv)).toEqual({ command: 'version' });
    expect(parseCommandLine(['--version', 'x'])).toEqual({ command: 'usage-error', message: '--version takes no arguments' });
  });

  it('gives demo a 30 s watchdog unless told otherwise', () => {
    expect(parseCommandLine(['demo'])).toEqual({ command: 'demo', options: { timeoutMs: 30_000 } });
    expect(parseCommandLine(['demo', '--timeout', '5000'])).toEqual({ command: 'demo', options: { timeoutMs: 5000 } });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--port', '1'], /expected a command before --port/],
    [['serve', '--bogus'], /^unknown option --bogus$/],
    [['serve', '-x'], /^unknown option -x$/],
    [['serve', '--port'], /^--port needs a value: --port <port>$/],
    [['serve', '-p'], /^-p needs a value: -p <port>$/],
    [['serve', '--store', '--port', '1'], /^--store needs a value: --store <dir>$/],
    [['serve', '--port', 'abc'], /^--port must be an integer from 0 to 65535, got "abc"$/],
    [['serve', '--port', '70000'], /^--port must be an integer from 0 to 65535, got "70000"$/],
    [['serve', '--port', '-1'], /^--port must be an integer from 0 to 65535, got "-1"$/],
    [['serve', '--store', ''], /^--store must name a directory$/],
    [['serve', '--host', ' '], /^--host must not be empty$/],
    [['serve', '--log-level', 'loud'], /^--log-level must be one of debug, info, warn, error, got "loud"$/],
    [['serve', '--log-level'], /^--log-level needs a value: --log-level debug\|info\|warn\|error$/],
    [['serve', '--help=yes'], /^--help takes no value$/],
    [['serve', 'extra'], /^unexpected argument "extra"$/],
    [['demo', '--timeout', '10'], /^--timeout must be a whole number of milliseconds, at least 1000, got "10"$/],
    [['demo', '--timeout', '-5'], /^--timeout must be a whole number of milliseconds, at least 1000, got "-5"$/],
    [['demo', '--timeout', '1.5e3'], /^--timeout must be a whole number/],
    [['demo', '--timeout'], /^--timeout needs a value: --timeout <ms>$/],
  ])('rejects %j with one line of its own', (argv, message) => {
    const parsed = parseCommandLine(argv);
    expect(parsed.command).toBe('usage-error');
    const text = parsed.command === 'usage-error' ? parsed.message : '';
    expect(text).toMatch(message);
    // Never node:util's wording (`Option '-p, --port <value>' argument missing`, `ambiguous`).
    expect(text).not.toMatch(/Option '|ambiguous|ERR_PARSE_ARGS/);
  });
});
