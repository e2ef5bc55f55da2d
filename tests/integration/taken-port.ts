// A port picker for the stack's start-again tests: its pick number `at` is a port someone else already holds (free when
// a picker would have checked it, taken when the server binds it); every other pick is a free loopback port.
import { createServer, type AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { freePort } from '../../operations/ports.ts';

export interface TakenPortPicker {
  /** The port held for the test's length. */
  taken: number;
  /** Every port picked, in order. */
  picked: number[];
  pickPort: () => Promise<number>;
}

export async function takenPortPicker(t: TestContext, at: number): Promise<TakenPortPicker> {
  const holder = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const taken = (holder.address() as AddressInfo).port;
  const picked: number[] = [];
  return {
    taken,
    picked,
    pickPort: async () => {
      const port = picked.length === at ? taken : await freePort();
      picked.push(port);
      return port;
    },
  };
}
