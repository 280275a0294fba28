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
export function startServer(config: Config, log: (msg: string) => void = () => {}): Promise<RunningServer> {
  const services = createServices(config, (method, err) => log(`method ${method} failed: ${err instanceof Error ? err.message : 'unknown error'}`));
  const app = createApp(services, log);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      services.close();
      reject(err);
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
            services.close();
            done();
          });
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
      });
    });
    server.once('error', onError);
  });
}
