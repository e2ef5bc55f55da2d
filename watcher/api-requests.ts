// Names a Kubernetes API request the way RBAC does (verb and resource), for the API call counter.

export interface ApiRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';
  /** `jobs.batch`, `leases.coordination.k8s.io`, `streamclasses.streaming.sneaksanddata.com/status`, `events`. */
  resource: string;
}

/** The resource path after `/api/v1` or `/apis/<group>/<version>`. */
function splitPath(pathname: string): { group: string; rest: string[] } | undefined {
  const segments = pathname.split('/').filter((segment) => segment !== '');
  if (segments[0] === 'api') return { group: '', rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments.length >= 3) return { group: segments[1] ?? '', rest: segments.slice(3) };
  return undefined;
}

export function describeRequest(method: string, url: string): ApiRequest {
  const parsed = new URL(url);
  const path = splitPath(parsed.pathname);
  const rest = path && path.rest[0] === 'namespaces' && path.rest.length >= 3 ? path.rest.slice(2) : (path?.rest ?? []);
  const [plural, name, subresource] = rest;
  if (!path || plural === undefined) return { verb: 'other', resource: parsed.pathname };
  const resource = `${plural}${path.group ? `.${path.group}` : ''}${subresource ? `/${subresource}` : ''}`;
  switch (method.toUpperCase()) {
    case 'GET':
      if (parsed.searchParams.get('watch') === 'true') return { verb: 'watch', resource };
      return { verb: name === undefined ? 'list' : 'get', resource };
    case 'POST':
      return { verb: 'create', resource };
    case 'PUT':
      return { verb: 'update', resource };
    case 'PATCH':
      return { verb: 'patch', resource };
    case 'DELETE':
      return { verb: name === undefined ? 'deletecollection' : 'delete', resource };
    default:
      return { verb: 'other', resource };
  }
}
