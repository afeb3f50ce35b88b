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
      options: { port: 4317, host: '127.0.0.1', store: undefined },
    });
  });

  it('reads --port, --host and --store', () => {
    expect(parseCommandLine(['serve', '--port', '0', '--host', '0.0.0.0', '--store', './sessions'])).toEqual({
      command: 'serve',
      options: { port: 0, host: '0.0.0.0', store: './sessions' },
    });
    expect(parseCommandLine(['serve', '--port=8080'])).toMatchObject({ options: { port: 8080 } });
  });

  it('gives demo a 30 s watchdog unless told otherwise', () => {
    expect(parseCommandLine(['demo'])).toEqual({ command: 'demo', options: { timeoutMs: 30_000 } });
    expect(parseCommandLine(['demo', '--timeout', '5000'])).toEqual({ command: 'demo', options: { timeoutMs: 5000 } });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--port', '1'], /expected a command before --port/],
    [['serve', '--bogus'], /Unknown option '--bogus'/],
    [['serve', '--port'], /--port/],
    [['serve', '--port', 'abc'], /--port must be an integer from 0 to 65535, got "abc"/],
    [['serve', '--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['serve', '--port', '-1'], /--port/],
    [['serve', '--store', ''], /--store must name a directory/],
    [['serve', 'extra'], /extra/],
    [['demo', '--timeout', '10'], /--timeout must be a number of milliseconds/],
  ])('rejects %j with a clear message', (argv, message) => {
    const parsed = parseCommandLine(argv);
    expect(parsed.command).toBe('usage-error');
    expect(parsed.command === 'usage-error' && parsed.message).toMatch(message);
  });
});
