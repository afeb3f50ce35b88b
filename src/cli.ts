/**
 * The `agent-tether` command: `serve` runs the reference server with the demo
 * agent, `demo` walks through what the SDK does against an embedded server.
 *
 * @example
 * npx agent-tether serve --port 4317 --store ./sessions
 * npx agent-tether demo
 */
import { parseCommandLine } from './cli/args.js';
import { EXIT } from './cli/exit-codes.js';
import { HELP } from './cli/help.js';

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.command) {
    case 'help':
      process.stdout.write(HELP);
      return EXIT.ok;
    case 'usage-error':
      process.stderr.write(`agent-tether: ${parsed.message}\nRun \`agent-tether --help\` for usage.\n`);
      return EXIT.usage;
    case 'serve': {
      // Loaded on demand so `--help` and `demo` do not pay for each other.
      const { runServe } = await import('./cli/serve.js');
      return runServe(parsed.options);
    }
    case 'demo': {
      const { runDemoCommand } = await import('./cli/demo.js');
      return runDemoCommand(parsed.options);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`agent-tether: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = EXIT.failure;
  },
);
