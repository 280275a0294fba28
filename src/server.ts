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

/**
 * Builds the services, runs `prepare` (the first-start bootstrap) and only then serves the app: whatever answers,
 * /healthz included, answers a server that is ready. Resolves once listening.
 */
export async function startServer(config: Config, log: Logger = silentLogger, prepare?: (services: Services) => Promise<void>): Promise<RunningServer> {
  const services = await createServices(config, log);
  try {
    await prepare?.(services);
  } catch (err) {
    await services.close();
    throw err;
  }
  const app = createApp(services);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      void services.close().finally(() => reject(err));
    };
    const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info: AddressInfo) => {
      server.off('error', onError);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      // Port 0 means "any free port": the public URL's port can only be known now (its host stays the one
      // config chose, never an unspecified listen address).
      if (!config.publicUrlExplicit) {
        const url = new URL(config.publicUrl);
        url.port = String(info.port);
        config.publicUrl = url.origin;
      }
      let closing: Promise<void> | undefined;
      resolve({
        services,
        port: info.port,
        url: `http://${host}:${info.port}`,
        close: () => (closing ??= new Promise<void>((done) => {
          services.draining = true;
          // Event streams never end on their own: ended now, so they do not hold the shutdown until the cut.
          services.push.closeAll();
          const cut = setTimeout(() => server.closeAllConnections?.(), config.shutdownTimeoutSeconds * 1000);
          cut.unref();
          server.close(() => {
            clearTimeout(cut);
            void services.close().finally(done);
          });
          server.closeIdleConnections?.();
        })),
      });
    }) as HttpServer;
    server.once('error', onError);
  });
}
