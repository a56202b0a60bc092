/** The forms of REDIS_URL beyond redis:// and rediss://, read by the config and the Redis store. */

export type HostPort = { host: string; port: number };

/** `host:port[,host:port...]` (IPv6 hosts in brackets); null when any entry is not one. */
function hostList(list: string): HostPort[] | null {
  const hosts = list.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return { host: hp.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(hp.slice(at + 1)) };
  });
  return hosts.some((h) => !h.host || !Number.isInteger(h.port) || h.port <= 0 || h.port > 65535) ? null : hosts;
}

/** The `user:password@` part of a URL, decoded. */
const credentials = (user: string | undefined, password: string | undefined) => ({
  ...(user ? { username: decodeURIComponent(user) } : {}),
  ...(password ? { password: decodeURIComponent(password) } : {}),
});

/**
 * A Sentinel-managed Redis: `redis+sentinel://[user:password@]host:port[,host:port...]/<master name>`.
 * The credentials are the data nodes' (the sentinels take none here). Null for any other URL.
 */
export function parseSentinelUrl(url: string): { sentinels: HostPort[]; name: string; username?: string; password?: string } | null {
  const m = /^redis\+sentinel:\/\/(?:([^:@/]*):([^@/]*)@)?([^/@]+)\/([^/?#]+)$/.exec(url);
  const sentinels = m && hostList(m[3]!);
  return sentinels ? { sentinels, name: decodeURIComponent(m![4]!), ...credentials(m![1], m![2]) } : null;
}

/**
 * A Redis Cluster: `redis+cluster://[user:password@]host:port[,host:port...]`, or
 * `rediss+cluster://` for TLS. Any nodes of the cluster will do (ioredis learns the others from
 * them); the credentials are every node's. Null for any other URL.
 */
export function parseClusterUrl(url: string): { nodes: HostPort[]; tls: boolean; username?: string; password?: string } | null {
  const m = /^(rediss?)\+cluster:\/\/(?:([^:@/]*):([^@/]*)@)?([^/@?#]+)\/?$/.exec(url);
  const nodes = m && hostList(m[4]!);
  return nodes ? { nodes, tls: m![1] === 'rediss', ...credentials(m![2], m![3]) } : null;
}
