// The workflows the worker registers (its `workflowsPath`).
export { streamWorkflow } from './stream-workflow.ts';
