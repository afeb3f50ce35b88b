/** The system binaries the suites use: where Debian puts each, its package, and the variable that points elsewhere. */
import type { BinaryNeed } from './require-binary.js';

/** Debian's multiarch library folders, so the same lists work on amd64 and arm64. */
const multiarch = (path: string) => ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((arch) => `/usr/lib/${arch}/${path}`);

/** Headless Chromium, driven over the DevTools protocol by puppeteer-core. */
export const CHROMIUM: BinaryNeed = {
  name: 'Chromium',
  paths: ['/usr/bin/chromium'],
  envVar: 'CHROMIUM_PATH',
  debianPackage: 'chromium',
};

/** Firefox ESR, driven over WebDriver BiDi by puppeteer-core (no geckodriver). */
export const FIREFOX: BinaryNeed = {
  name: 'Firefox',
  paths: ['/usr/bin/firefox-esr', '/usr/bin/firefox'],
  envVar: 'FIREFOX_PATH',
  debianPackage: 'firefox-esr',
};

/** WebKitGTK's WebDriver server; it starts MiniBrowser. */
export const WEBKIT_WEBDRIVER: BinaryNeed = {
  name: 'WebKitWebDriver',
  paths: ['/usr/bin/WebKitWebDriver'],
  envVar: 'WEBKIT_WEBDRIVER_PATH',
  debianPackage: 'webkit2gtk-driver',
};

/** WebKitGTK's MiniBrowser (shipped by libwebkit2gtk, which webkit2gtk-driver depends on). */
export const MINIBROWSER: BinaryNeed = {
  name: 'MiniBrowser',
  paths: [...multiarch('webkit2gtk-4.1/MiniBrowser'), ...multiarch('webkit2gtk-4.0/MiniBrowser')],
  envVar: 'MINIBROWSER_PATH',
  debianPackage: 'webkit2gtk-driver',
};

/** A virtual X display, for browsers without a working headless mode (MiniBrowser). */
export const XVFB: BinaryNeed = {
  name: 'Xvfb',
  paths: ['/usr/bin/Xvfb'],
  envVar: 'XVFB_PATH',
  debianPackage: 'xvfb',
};

/** Redis, for the Redis store suites. */
export const REDIS_SERVER: BinaryNeed = {
  name: 'redis-server',
  paths: ['/usr/bin/redis-server'],
  envVar: 'REDIS_SERVER_PATH',
  debianPackage: 'redis-server',
};

// Codex and OpenCode are not Debian packages: scripts/install-peers.sh installs their npm
// platform packages into .peers/ (the paths below), for the bridge suites.
const PEERS = new URL('../../.peers/node_modules/', import.meta.url).pathname;
const PEER_ARCH = process.arch === 'arm64' ? 'arm64' : 'x64';
const PEER_TRIPLE = process.arch === 'arm64' ? 'aarch64-unknown-linux-musl' : 'x86_64-unknown-linux-musl';

/** Codex's app-server (`@openai/codex` 0.171.x, its Linux platform package). */
export const CODEX: BinaryNeed = {
  name: 'codex',
  paths: [`${PEERS}@openai/codex-linux-${PEER_ARCH}/vendor/${PEER_TRIPLE}/bin/codex`],
  envVar: 'CODEX_PATH',
  debianPackage: 'codex',
  install: 'scripts/install-peers.sh',
};

/** OpenCode's server (`opencode-ai` 1.18.x, its Linux platform package; the baseline build on CPUs without AVX2). */
export const OPENCODE: BinaryNeed = {
  name: 'opencode',
  paths: [`linux-${PEER_ARCH}`, `linux-${PEER_ARCH}-baseline`, `linux-${PEER_ARCH}-musl`].map((p) => `${PEERS}opencode-${p}/bin/opencode`),
  envVar: 'OPENCODE_PATH',
  debianPackage: 'opencode',
  install: 'scripts/install-peers.sh',
};
