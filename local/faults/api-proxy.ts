/**
 * A fault-injecting HTTP proxy on loopback, in front of the emulator or the local Step Functions
 * service. The handlers' SDK clients reach it (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SFN` point at
 * it when faults are on); everything else (the world driver, tests, observers) keeps the direct
 * endpoint. Per request it asks the injector (one stream per service) and then:
 *
 * - throttle / server-error: answers the service's own error, in its protocol (faults/errors.ts);
 * - reset: destroys the connection before forwarding (nothing happened);
 * - timeout: holds the request, then destroys the connection (nothing happened);
 * - latency: forwards after a wait;
 * - reset-after: forwards, waits for the whole answer (the effect happened), then destroys the
 *   connection: the answer is lost;
 * - otherwise forwards untouched (headers, Host included: the signature and moto's URLs stay valid).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorAnswer, signingService } from './errors';
import type { FaultInjector, TrailEntry } from './injector';

export interface ApiProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The services whose world-changing calls go into the trail (all query protocol). */
const TRAILED = new Set(['ec2', 'autoscaling', 'elasticloadbalancing']);

/** A trail entry for a world-changing query-protocol call, else undefined. */
function trailEntry(service: string, body: Buffer, fault: string | undefined): TrailEntry | undefined {
  if (!TRAILED.has(service)) return undefined;
  const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  const action = params['Action'] ?? '';
  if (action === '' || /^(Describe|Get|List)/.test(action)) return undefined;
  delete params['Action'];
  delete params['Version'];
  return {
    at: new Date().toISOString(),
    service,
    action,
    params,
    ...(fault !== undefined ? { fault } : {}),
  };
}

export async function startApiProxy(options: {
  /** Where requests go: `http://127.0.0.1:<port>`. */
  readonly upstream: string;
  readonly injector: FaultInjector;
  /** The service to assume when a request is not signed (e.g. 'states'). */
  readonly defaultService?: string;
}): Promise<ApiProxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ head: http.IncomingMessage; data: Buffer }> =>
    new Promise((resolve, reject) => {
      const request = http.request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (head) => {
          const chunks: Buffer[] = [];
          head.on('data', (chunk: Buffer) => chunks.push(chunk));
          head.on('end', () => resolve({ head, data: Buffer.concat(chunks) }));
          head.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    const service = signingService(req.headers.authorization) || (options.defaultService ?? '');
    const fault = options.injector.apiFault(service);
    const kind = fault?.kind;
    const entry = trailEntry(service, body, kind);
    if (entry !== undefined) options.injector.recordCall(entry);
    if (kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (kind === 'timeout') {
      await wait(fault!.ms);
      req.socket.destroy();
      return;
    }
    if (kind === 'throttle' || kind === 'server-error') {
      const answer = errorAnswer(service, kind);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
      return;
    }
    if (kind === 'latency') await wait(fault!.ms);
    let answer: { head: http.IncomingMessage; data: Buffer };
    try {
      answer = await forward(req, body);
    } catch {
      // The service itself is unreachable: the client sees what it would see without the proxy.
      req.socket.destroy();
      return;
    }
    if (kind === 'reset-after') {
      req.socket.destroy();
      return;
    }
    if (entry !== undefined) entry.status = answer.head.statusCode;
    const headers = { ...answer.head.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(answer.data.length);
    res.writeHead(answer.head.statusCode ?? 502, answer.head.statusMessage, headers);
    res.end(answer.data);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (closing) {
        req.socket.destroy();
        return;
      }
      handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy());
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
