import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { silentLogger, type Logger } from './log.js';
import { createServices, type Services } from './services.js';

export interface RunningServer {
  services: Services;
  url: string;
  port: number;
  /**
   * Stops accepting, lets in-flight requests finish (connections still open after the shutdown timeout are cut),
   * flushes last-used times and closes the store.
   */
  close(): Promise<void>;
}

type HttpServer = ServerType & { closeAllConnections?: () => void; closeIdleConnections?: () => void };

/** Builds the services and serves the app; resolves once listening. */
export function startServer(config: Config, log: Logger = silentLogger): Promise<RunningServer> {
  const services = createServices(config, log);
  const app = createApp(services);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      services.close();
      reject(err);
    };
    const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info: AddressInfo) => {
      server.off('error', onError);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      // Port 0 means "any free port": the public URL can only be known now.
      if (!config.publicUrlExplicit) config.publicUrl = `http://${host}:${info.port}`;
      let closing: Promise<void> | undefined;
      resolve({
        services,
        port: info.port,
        url: `http://${host}:${info.port}`,
        close: () => (closing ??= new Promise<void>((done) => {
          services.draining = true;
          const cut = setTimeout(() => server.closeAllConnections?.(), config.shutdownTimeoutSeconds * 1000);
          cut.unref();
          server.close(() => {
            clearTimeout(cut);
            services.close();
            done();
          });
          server.closeIdleConnections?.();
        })),
      });
    }) as HttpServer;
    server.once('error', onError);
  });
}
