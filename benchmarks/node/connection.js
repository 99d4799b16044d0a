// ioredis options for $REDIS_URL, as the failover peers connect: a redis+sentinel:// URL
// (redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB], as ours reads it)
// becomes ioredis's `sentinels` and `name`, the way BullMQ's docs connect to Sentinel;
// any other URL is given to ioredis as it is.
function redisOptions(url, extra = {}) {
  if (!url.startsWith('redis+sentinel://')) return [url, extra];
  const rest = url.slice('redis+sentinel://'.length);
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const [hosts, service, db] = (at >= 0 ? rest.slice(at + 1) : rest).split('/');
  const password = auth.includes(':') ? decodeURIComponent(auth.split(':').slice(1).join(':')) : undefined;
  const sentinels = hosts.split(',').map((hostPort) => {
    const [host, port] = hostPort.split(':');
    return { host, port: Number(port || 26379) };
  });
  return [{ sentinels, name: service, db: Number(db || 0), password, ...extra }];
}

module.exports = { redisOptions };
