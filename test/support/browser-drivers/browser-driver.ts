/** What a browser end-to-end scenario may ask of a browser: the one interface every engine's adapter implements. */

/** The engines the browser suites run in. */
export type BrowserEngine = 'chromium' | 'firefox' | 'webkit';

/** One tab. Every method works the same in every engine, so a scenario cannot drift between them. */
export interface BrowserTab {
  /** Loads `url` and waits for its `load` event. */
  goto(url: string): Promise<void>;
  /** The tab's current URL (after any `history.replaceState`). */
  url(): Promise<string>;
  /**
   * Runs `fn(arg)` in the page and returns its result. `fn` is sent as source
   * text: it may use only its argument and the page's globals, and both `arg`
   * and the result must survive JSON.
   */
  evaluate<A, R>(fn: (arg: A) => R, arg: A): Promise<R>;
  /** A real click (the engine's input, not a synthetic event) on the first match of `selector`. */
  click(selector: string): Promise<void>;
  /** Clears the field matching `selector` and types `text` into it, key by key. */
  type(selector: string, text: string): Promise<void>;
  close(): Promise<void>;
}

/** A running browser. Close it in teardown. */
export interface BrowserDriver {
  readonly engine: BrowserEngine;
  newTab(): Promise<BrowserTab>;
  /** Closes every tab, the browser and whatever the adapter started for it (a driver server, a display). */
  close(): Promise<void>;
}

/** Options every adapter's `launch` takes. */
export interface LaunchOptions {
  /**
   * Host names the browser resolves to 127.0.0.1, for pages that must not be
   * on `localhost` (an insecure context). Every adapter supports it, each
   * in its engine's own way.
   */
  hostAliases?: readonly string[];
}
