// The browser example end to end in WebKit; the scenarios are in browser-scenarios.ts, shared by every engine.
import { ENGINES } from '../support/browser-drivers/engines.js';
import { describeBrowserSuite } from './browser-harness.js';

describeBrowserSuite(ENGINES.webkit);
