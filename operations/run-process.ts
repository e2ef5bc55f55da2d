// The shape every process entry shares: validated configuration (exit 2 with one line per problem), then run until
// SIGTERM or SIGINT and stop cleanly (exit 0).
import { ConfigError } from './config-schema.ts';

export interface Running {
  stop(): Promise<void>;
}

/** Returns the exit code; `start` receives the validated configuration. */
export async function runProcess<C>(parse: () => C, start: (config: C) => Promise<Running>): Promise<number> {
  let config: C;
  try {
    config = parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const running = await start(config);
  await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await running.stop();
  return 0;
}
