#!/usr/bin/env node
// Serves the browser example:
//
//   node scripts/build-browser.mjs              # bundle the SDK next to the page
//   npx agent-tether serve                      # the agent server, on :4317
//   node examples/browser/serve.mjs             # the page, on :8080
//
// then open http://127.0.0.1:8080/ (add `?api=<url>` for another agent server).
import { parseArgs } from 'node:util';
import { createPageServer } from './page-server.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const server = createPageServer();
server.listen(Number(args.port), args.host, () => {
  console.log(`browser example on http://${args.host}:${server.address().port}/ — Ctrl-C stops`);
});
const stop = () => {
  server.closeAllConnections();
  server.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
