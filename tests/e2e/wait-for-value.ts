// Waiting for something read over and over to become what a scenario expects, with the last value read in the
// failure: "timed out" alone does not say what the operator did instead.
import { waitFor } from '../../stack/wait.ts';

export async function waitForValue<T>(
  description: string,
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  options: { timeoutMs: number; show?: (value: T) => unknown },
): Promise<T> {
  let last: { value: T } | undefined;
  try {
    return await waitFor(
      description,
      async () => {
        last = { value: await read() };
        return predicate(last.value) ? last : undefined;
      },
      { timeoutMs: options.timeoutMs, intervalMs: 200 },
    ).then((found) => found.value);
  } catch (error) {
    const shown = last && JSON.stringify((options.show ?? ((value: T) => value))(last.value));
    throw new Error(`${(error as Error).message}; last seen: ${shown ?? 'nothing'}`, { cause: error });
  }
}
