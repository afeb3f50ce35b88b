/**
 * `agent-tether/server`: the protocol's reference server for Node.
 */
export {};
