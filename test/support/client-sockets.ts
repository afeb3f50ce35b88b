import { Socket } from 'node:net';

/**
 * Client-side TCP sockets still open in this process: the ones a client opens.
 * Server-side (accepted) sockets are left out: on Node 22 an accepted socket
 * that was already destroyed can keep its handle listed for a while, so
 * counting every `TCPSocketWrap` in `getActiveResourcesInfo()` fails leak
 * checks that have nothing to do with the client. `_getActiveHandles` is the
 * only API that tells the two apart. With `remotePort`, only sockets to that
 * port count: behind the fault proxy, the SDK client's are the ones to the
 * proxy, while the proxy's own upstream sockets belong to the test kit.
 */
export function clientSockets(remotePort?: number): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter(
    (h) =>
      h instanceof Socket &&
      !(h as Socket & { server?: unknown }).server &&
      h.remotePort !== undefined &&
      (remotePort === undefined || h.remotePort === remotePort),
  ).length;
}
