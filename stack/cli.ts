// `npm start`: runs the local stack until Ctrl-C and prints how to reach it.
import { startStack } from './index.ts';

const stack = await startStack({ dir: process.env.ARCANE_STACK_DIR });
console.log(`local stack is up (Ctrl-C stops it and every process it started)
  export KUBECONFIG=${stack.kubeconfigPath}
  Temporal address:   ${stack.temporalAddress} (namespace ${stack.temporalNamespace})
  Temporal Web UI:    ${stack.temporalUiUrl}
  component logs:     ${stack.logDir}`);
