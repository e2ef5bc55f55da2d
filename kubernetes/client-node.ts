// The parts of @kubernetes/client-node that the operator's code uses at run time, in one place (its types are imported
// from the library itself). The library's index loads the generated client of every Kubernetes API, about 25 MiB of
// memory in each process before it has done anything; `npm run build` (tools/build-dist.ts) replaces this module in
// dist/ with a bundle of only what it exports here, so the image's worker and watcher load none of the rest. Run from
// the sources, it is the library itself.
export {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  Observable,
  PatchStrategy,
  ResponseContext,
  ServerConfiguration,
  Watch,
  createConfiguration,
  setHeaderOptions,
} from '@kubernetes/client-node';
