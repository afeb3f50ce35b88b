/**
 * `agent-tether/testing`: helpers for testing apps built on agent-tether —
 * a fault-injecting TCP proxy, a TCP load balancer, a scriptable agent, a real test server and
 * msw handlers that serve the protocol from memory.
 * See docs/testing.md.
 *
 * @example
 * import { createTestServer, createFaultProxy } from 'agent-tether/testing';
 * await using server = await createTestServer();
 * await using proxy = await createFaultProxy({ target: server.url }).listen();
 */
export {
  createFaultProxy,
  FaultProxy,
  FAULT_PROXY_DEFAULTS,
  ProxyConnection,
  type DirectionStats,
  type FaultProxyEvents,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultProxyTarget,
  type NextConnectionOptions,
  type ProxyConnectionKind,
  type ProxyDirection,
  type ProxyRequest,
  type ResolvedFaultProxyOptions,
  type StallDirection,
} from './testing/fault-proxy.js';
export {
  createLoadBalancer,
  LoadBalancer,
  LOAD_BALANCER_DEFAULTS,
  type BalancedConnection,
  type BalanceStrategy,
  type LoadBalancerEvents,
  type LoadBalancerOptions,
  type LoadBalancerStats,
  type ResolvedLoadBalancerOptions,
} from './testing/load-balancer.js';
export {
  echoScript,
  scriptedAgent,
  type Agent,
  type AgentChunk,
  type AgentInput,
  type Script,
  type ScriptedAgent,
  type ScriptStep,
} from './testing/scripted-agent.js';
export {
  createTestServer,
  TEST_SERVER_DEFAULTS,
  type TestServer,
  type TestServerOptions,
} from './testing/create-test-server.js';
export {
  createMswHandlers,
  MSW_HANDLERS_DEFAULTS,
  type InjectedError,
  type MswFaults,
  type MswHandlersOptions,
  type MswTether,
} from './testing/msw-handlers.js';
