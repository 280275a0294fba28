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

/** Builds the services and serves the app; resolves once listening. */
export async function startServer(config: Config, log: (msg: string) => void = () => {}): Promise<RunningServer> {
  const services = await createServices(config, (method, err) => log(`method ${method} failed: ${err instanceof Error ? err.message : 'unknown error'}`));
  const app = createApp(services, log);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      void services.close().finally(() => reject(err));
    };
    const server: ServerType = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info: AddressInfo) => {
      server.off('error', onError);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      // Port 0 means "any free port": the public URL can only be known now.
      if (!config.publicUrlExplicit) config.publicUrl = `http://${host}:${info.port}`;
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
