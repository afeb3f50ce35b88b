// The server an abuse probe attacks, in its own process so its RSS is its own:
// default limits unless ABUSE_OPTIONS (JSON) says otherwise; prints its URL, logs warn+ to stderr.
// The build (`npm run build` first); ABUSE_SERVER_MODULE points elsewhere (another build) when set.
const { createServer, consoleLogger } = await import(process.env.ABUSE_SERVER_MODULE ?? '../../dist/server.js');

const options = JSON.parse(process.env.ABUSE_OPTIONS ?? '{}');
// A short turn: a few deltas, so turns finish and queues drain.
async function* agent({ prompt }) {
  for (let i = 0; i < 5; i++) yield { type: 'delta', text: `${i}:${prompt.length} ` };
}
const server = createServer({ agent, logger: consoleLogger('warn'), ...options });
const { url } = await server.listen(0, '127.0.0.1');
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => void server.close({ timeoutMs: 1000 }).then(() => process.exit(0)));
