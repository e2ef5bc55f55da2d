// The Temporal connection settings shared by the worker, the watcher, the CLI and client services.
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { z } from 'zod';
import { defaultTaskQueue } from './stream-id.ts';

export const temporalSettingsSchema = z
  .object({
    address: z
      .string()
      .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. temporal-frontend:7233')
      .default('127.0.0.1:7233'),
    namespace: z.string().min(1, 'must not be empty').default('default'),
    taskQueue: z.string().min(1, 'must not be empty').default(defaultTaskQueue),
    apiKey: z.string().min(1, 'must not be empty when set').optional(),
    tls: z
      .object({
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        caFile: z.string().min(1).optional(),
        serverName: z.string().min(1).optional(),
      })
      .refine((tls) => Boolean(tls.certFile) === Boolean(tls.keyFile), 'certFile and keyFile go together (mTLS)')
      .optional(),
  })
  .strict();

export type TemporalSettings = z.infer<typeof temporalSettingsSchema>;

/** Connection options for the client and for the worker's native connection alike. */
export function connectionOptions(settings: TemporalSettings): {
  address: string;
  apiKey?: string;
  tls?: ConnectionOptions['tls'];
} {
  const { tls, apiKey, address } = settings;
  const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  const cert = read(tls?.certFile);
  const key = read(tls?.keyFile);
  return {
    address,
    apiKey,
    tls:
      tls || apiKey
        ? {
            serverNameOverride: tls?.serverName,
            serverRootCACertificate: read(tls?.caFile),
            clientCertPair: cert && key ? { crt: cert, key } : undefined,
          }
        : undefined,
  };
}

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(settings));
  return new Client({ connection, namespace: settings.namespace });
}
