// Sends the generated Kubernetes clients' requests through undici's request API on the dispatcher the kubeconfig's
// authentication set (its TLS material and keep-alive pool). The library's own HTTP layer goes through the WHATWG
// fetch, whose streams, Headers and Response objects cost about a third of the CPU of every API call. Each call's
// answer here is read whole before it is handed over, and given as text or bytes as the generated clients ask.
import type { HttpLibrary, RequestContext, ResponseBody } from '@kubernetes/client-node';
import { Observable, ResponseContext } from './client-node.ts';
import { getGlobalDispatcher, type Dispatcher } from 'undici';

/** An answer's headers as the generated clients read them: one string per name, repeated values joined. */
function flatHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** A body already read: the generated clients read it as text (JSON), binary answers as a Buffer. */
function readBody(bytes: Buffer): ResponseBody {
  return {
    text: () => Promise.resolve(bytes.toString('utf8')),
    binary: () => Promise.resolve(bytes),
    stream: () => new Blob([bytes]).stream(),
  };
}

export class DispatcherHttpLibrary implements HttpLibrary {
  send(request: RequestContext): Observable<ResponseContext> {
    const url = new URL(request.getUrl());
    // No dispatcher: plain HTTP without TLS options, over undici's process-wide pool.
    const dispatcher = request.getDispatcher() ?? getGlobalDispatcher();
    const body = request.getBody() as string | Buffer | undefined;
    const answer = dispatcher
      .request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.getHttpMethod(),
        headers: request.getHeaders(),
        body: body ?? null,
        signal: request.getSignal() ?? undefined,
      })
      .then(async ({ statusCode, headers, body: stream }) => {
        const bytes = Buffer.from(await stream.arrayBuffer());
        return new ResponseContext(statusCode, flatHeaders(headers), readBody(bytes));
      });
    return new Observable(answer);
  }
}
