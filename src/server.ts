import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  services: Services;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Builds the services, runs `prepare` (the first-start bootstrap) and only then serves the app: whatever answers,
 * /healthz included, answers a server that is ready. Resolves once listening.
 */
export async function startServer(config: Config, log: (msg: string) => void = () => {}, prepare?: (services: Services) => Promise<void>): Promise<RunningServer> {
  const services = await createServices(config, (method, err) => log(`method ${method} failed: ${err instanceof Error ? err.message : 'unknown error'}`));
  try {
    await prepare?.(services);
  } catch (err) {
    await services.close();
    throw err;
  }
  const app = createApp(services, log);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      void services.close().finally(() => reject(err));
    };
    const server: ServerType = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info: AddressInfo) => {
      server.off('error', onError);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      // Port 0 means "any free port": the public URL's port can only be known now (its host stays the one
      // config chose, never an unspecified listen address).
      if (!config.publicUrlExplicit) {
        const url = new URL(config.publicUrl);
        url.port = String(info.port);
        config.publicUrl = url.origin;
      }
      resolve({
        services,
        port: info.port,
        url: `http://${host}:${info.port}`,
        close: () => new Promise<void>((done) => {
          server.close(() => {
            void services.close().finally(done);
          });
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
      });
    });
    server.once('error', onError);
  });
}
