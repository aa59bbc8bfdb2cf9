/**
 * The web view as `phoenix local` runs it: an outcome listener of its own on the Phoenix bus
 * (local/outcomes.ts, a rule and a queue named `phoenix-web-outcomes`), whose outcomes feed the
 * page, and the web server on loopback.
 */
import { listenToOutcomes } from '../outcomes';
import type { LocalRuntime } from '../runtime';
import type { FeedItem } from './render';
import { startWebServer } from './server';

export interface WebView {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The most outcomes the feed keeps (the oldest go first). */
const FEED_LIMIT = 500;

export async function startWebView(runtime: LocalRuntime, options: { port?: number } = {}): Promise<WebView> {
  const feed: FeedItem[] = [];
  const listener = await listenToOutcomes({
    endpoint: runtime.endpoint,
    region: runtime.region,
    eventBusName: runtime.resources.eventBusName ?? 'phoenix',
    name: 'phoenix-web-outcomes',
    onOutcome: (event) => {
      feed.push({ at: new Date().toISOString(), detailType: event.detailType, detail: event.detail });
      if (feed.length > FEED_LIMIT) feed.shift();
    },
  });
  const server = await startWebServer({
    ...(runtime.resources.stateMachineArn !== undefined
      ? { stateMachineArn: runtime.resources.stateMachineArn }
      : {}),
    timeScale: runtime.timeScale,
    outcomes: () => feed,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  return {
    url: server.url,
    async stop() {
      await server.close();
      await listener.stop();
    },
  };
}
