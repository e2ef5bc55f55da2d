// pino JSON logs for the processes; pretty ones for people at a terminal (dev only: pino-pretty is a dev dependency).
import { pino, type Logger } from 'pino';

export function processLogger(settings: { level: string; pretty: boolean }, name: string): Logger {
  return pino({
    name,
    level: settings.level,
    ...(settings.pretty ? { transport: { target: 'pino-pretty' } } : {}),
  });
}
