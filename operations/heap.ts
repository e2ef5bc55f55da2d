// The process's heap growth (heapSchema): process-wide, so the workflow thread's heap follows it too. Set before the
// process allocates much; V8 reads it at each full garbage collection.
import { setFlagsFromString } from 'node:v8';

export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
