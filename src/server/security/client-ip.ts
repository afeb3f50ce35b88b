/** The client's address: the socket's peer, or — only when told to trust a proxy — what it wrote in `X-Forwarded-For`. */

/**
 * With `trustProxy`, the right-most `X-Forwarded-For` entry: the address the
 * one trusted proxy in front of the server saw (entries further left were
 * written by the client and prove nothing). Without it, the socket's peer.
 */
export function clientIp(remoteAddress: string | undefined, forwardedFor: string | undefined, trustProxy: boolean): string | undefined {
  if (trustProxy && forwardedFor !== undefined) {
    const last = forwardedFor.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return remoteAddress;
}
