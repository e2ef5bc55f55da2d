// Requests both processes and the tests make the same way: the merge-patch option and listing any resource as raw JSON.
import type { CustomObjectsApi, KubernetesListObject } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from './client-node.ts';
import type { ListPage, ResourceLocation, WatchedObject } from './informer.ts';

/** Request option for a JSON merge patch (the generated clients default to a JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Lists one page of any resource by group, version and plural (raw JSON, as the watch delivers it). */
export function listObjects(custom: CustomObjectsApi) {
  return (location: ResourceLocation, page: ListPage = {}): Promise<KubernetesListObject<WatchedObject>> => {
    const { group, version, plural, namespace, labelSelector } = location;
    const paging = { limit: page.limit, _continue: page.continue };
    return namespace === undefined
      ? custom.listClusterCustomObject({ group, version, plural, labelSelector, ...paging })
      : custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector, ...paging });
  };
}
