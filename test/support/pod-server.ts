/**
 * Every pod of the test cluster, as one HTTP server inside the pod network (../testenv/podnet.ts): it listens on
 * 0.0.0.0 at the given ports and answers a request with the version (image) of the pod whose address the request
 * was sent to. The host tells it which pod holds which address on stdin, one JSON line per change:
 * `{"address": "10.244.0.3", "version": "example/app:2", "status": 200}` (the status it answers with: a broken
 * version's pods answer 500), or `"version": null` once a pod is gone. An address no pod holds answers 503, which
 * the tests count as a failed request. Prints `listening` once every port is bound.
 *
 *   ip netns exec stepwise-pods-1 node pod-server.js 8080 9000
 */
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const pods = new Map<string, { version: string; status: number }>();
createInterface({ input: process.stdin }).on('line', (line) => {
  const { address, version, status } = JSON.parse(line) as { address: string; version: string | null; status: number };
  if (version === null) pods.delete(address);
  else pods.set(address, { version, status });
});
// The host going away ends the server: it must not outlive the test that started it.
process.stdin.on('end', () => process.exit(0));

const ports = process.argv.slice(2).map(Number);
let bound = 0;
for (const port of ports) {
  const server = createServer((req, res) => {
    const address = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    const pod = pods.get(address);
    // Drain the request first: a keep-alive connection must be left at a message boundary.
    req.resume();
    req.on('end', () => {
      res.writeHead(pod?.status ?? 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ address, version: pod?.version ?? null }));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '0.0.0.0', () => {
    if (++bound === ports.length) process.stdout.write('listening\n');
  });
}
