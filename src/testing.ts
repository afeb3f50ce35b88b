/**
 * `agent-tether/testing`: helpers for testing apps built on agent-tether.
 */
export {};
