// A recording proxy in front of the API server: processes given its address send every request through it, so a test
// sees each call they make (watches included) with the answer the API server gave, whatever the processes count
// themselves. The permissions an identity used are read from it, named as RBAC names them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describeRequest } from '../../kubernetes/api-calls.ts';

export interface RecordedCall {
  /** RBAC's name of the call: `<verb> <plural>[.<group>][/<subresource>]`, e.g. `patch jobs.batch`. */
  permission: string;
  /** The API server's HTTP status, 0 when it sent none. */
  status: number;
  path: string;
}

/** RBAC's name of a permission, in the form `RecordedCall.permission` uses. */
export function permissionName(verb: string, group: string, resource: string): string {
  const [plural, subresource] = resource.split('/');
  return `${verb} ${plural}${group ? `.${group}` : ''}${subresource ? `/${subresource}` : ''}`;
}

/** The API server's serving certificate and key (PEM). */
export interface ServingTls {
  cert: Buffer;
  key: Buffer;
}

export class ApiRecorder {
  readonly calls: RecordedCall[] = [];
  private readonly server: Server;
  private readonly target: URL;
  private readonly ca: Buffer;

  private constructor(target: string, tls: ServingTls) {
    this.target = new URL(target);
    this.ca = tls.cert;
    this.server = createServer(tls, (incoming, outgoing) => this.forward(incoming, outgoing));
  }

  /**
   * Listens on a free loopback port and forwards to `server`. It serves the API server's own certificate (self-signed,
   * for 127.0.0.1), so clients verify it with the same CA as the API server.
   */
  static async start(server: string, tls: ServingTls): Promise<ApiRecorder> {
    const recorder = new ApiRecorder(server, tls);
    await new Promise<void>((resolve) => recorder.server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  /** The address to put in a kubeconfig instead of the API server's. */
  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The distinct permissions used, answered or refused. */
  permissions(): Set<string> {
    return new Set(this.calls.map((call) => call.permission));
  }

  /** Ends open watches too. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(incoming: IncomingMessage, outgoing: ServerResponse): void {
    const method = incoming.method ?? 'GET';
    const path = incoming.url ?? '/';
    const { verb, resource } = describeRequest(method, new URL(path, this.target).href);
    const call: RecordedCall = { permission: `${verb} ${resource}`, status: 0, path };
    this.calls.push(call);
    const upstream = request(
      {
        hostname: this.target.hostname,
        port: this.target.port,
        path,
        method,
        headers: { ...incoming.headers, host: this.target.host },
        ca: this.ca,
      },
      (answer) => {
        call.status = answer.statusCode ?? 0;
        outgoing.writeHead(call.status, answer.headers);
        answer.pipe(outgoing);
      },
    );
    // A client that hangs up (a watch closed on stop) ends the upstream request too, and the other way round.
    upstream.on('error', () => outgoing.destroy());
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  }
}
