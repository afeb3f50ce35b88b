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
import { packageVersion } from './cli/version.js';
import { describeValue } from './internal/describe-value.js';

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.command) {
    case 'help':
      process.stdout.write(HELP);
      return EXIT.ok;
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return EXIT.ok;
    case 'usage-error':
      process.stderr.write(`agent-tether: ${parsed.message} (see agent-tether --help)\n`);
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
    // One line, like every other failure; the stack only on request.
    const detail = process.env.AGENT_TETHER_DEBUG && error instanceof Error ? `\n${error.stack}` : '';
    process.stderr.write(`agent-tether: unexpected failure: ${describeValue(error)}${detail}\n`);
    process.exitCode = EXIT.failure;
  },
);
