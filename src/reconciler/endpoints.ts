import { createServer, type Server } from 'node:http';

/** What a path answers: a status and a text body. */
export type Route = () => { status: number; body: string; type?: string };

/**
 * A plain-HTTP listener of a few GET paths (metrics, health probes), bound as `HOST:PORT` or `:PORT` (every
 * address).
 */
export interface Endpoints {
  /** The address it listens on, with the port chosen when `:0` was asked for. */
  address: string;
  close(): Promise<void>;
}

export async function serveEndpoints(bind: string, routes: Readonly<Record<string, Route>>): Promise<Endpoints> {
  const match = /^(.*):(\d+)$/.exec(bind);
  if (!match) throw new Error(`${bind}: not an address (expected HOST:PORT or :PORT)`);
  const host = match[1] || undefined;
  const server: Server = createServer((req, res) => {
    const route = req.method === 'GET' ? routes[(req.url ?? '/').split('?')[0] ?? '/'] : undefined;
    if (!route) {
      res.writeHead(req.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const { status, body, type } = route();
    res.writeHead(status, { 'content-type': type ?? 'text/plain; charset=utf-8' }).end(body);
  });
  // Probes and scrapes are short: an idle connection is not kept from the process's exit.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(match[2]), host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    address: `${host ?? ''}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
