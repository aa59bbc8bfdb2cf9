/**
 * The web view of `phoenix local`: a node:http server on loopback. `/` is the page (inline CSS and
 * script, no external assets), `/api/state` the JSON it polls every second: the state
 * (`collectWebState`) and its HTML (`renderState`).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderPage, renderState } from './render';
import { collectWebState, type WebStateOptions } from './state';

export interface WebServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startWebServer(options: WebStateOptions & { port?: number }): Promise<WebServer> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/') {
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(renderPage());
      return;
    }
    if (path === '/api/state') {
      void collectWebState(options).then(
        (state) =>
          response
            .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            .end(JSON.stringify({ state, html: renderState(state) })),
        (error: unknown) =>
          response
            .writeHead(500, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: String(error) })),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
