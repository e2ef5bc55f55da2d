// Probes on the upstream chart's paths (/health, /health/ready, /startup) and the usual ones (/healthz, /readyz),
// and Prometheus /metrics on its own port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** Why not, one line per missing piece. */
  reasons: string[];
}

export interface HealthSource {
  readiness(): Readiness;
  isLeader(): boolean;
}

export interface Listener {
  port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function reply(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export function healthHandler(source: HealthSource): Handler {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://probe').pathname;
    switch (path) {
      case '/health':
      case '/healthz':
      case '/startup':
        // Alive as soon as it serves. An outage of Kubernetes or Temporal makes the process unready, but restarting it
        // would not help, so liveness never fails for one.
        return reply(res, 200, { status: 'ok', leader: source.isLeader() });
      case '/health/ready':
      case '/readyz': {
        const readiness = source.readiness();
        return reply(res, readiness.ready ? 200 : 503, { ...readiness, leader: source.isLeader() });
      }
      default:
        return reply(res, 404, { error: `no such probe: ${path}` });
    }
  };
}

/** What /metrics serves: a prom-client registry, or one with more text appended (the worker's Temporal SDK metrics). */
export type Exposition = Pick<Registry, 'metrics' | 'contentType'>;

export function metricsHandler(exposition: Exposition): Handler {
  return async (req, res) => {
    if (new URL(req.url ?? '/', 'http://metrics').pathname !== '/metrics')
      return reply(res, 404, 'not found\n', 'text/plain');
    reply(res, 200, await exposition.metrics(), exposition.contentType);
  };
}

/** Listens on host:port (0: any free port). */
export async function listen(host: string, port: number, handler: Handler): Promise<Listener> {
  const server: Server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((error: unknown) => reply(res, 500, { error: String(error) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
