import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of an S3 server that can be told to fail: while `failing` is set,
 * requests matching `shouldFail` get a 500 InternalError (what S3 answers when it has trouble);
 * the rest pass through untouched. Matching requests can also be slowed down (`delayMs`), and the
 * most of them in flight at once is counted (`maxInFlight`).
 */
export async function startFaultyProxy(
  target: string,
  shouldFail: (req: http.IncomingMessage) => boolean,
): Promise<{
  endpoint: string;
  failing: boolean;
  failed: number;
  /** Delay before forwarding a matching request. */
  delayMs: number;
  /** Most matching requests in flight at once. */
  maxInFlight: number;
  /** "METHOD url" of every request seen. */
  requests: string[];
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  const state = {
    endpoint: '',
    failing: false,
    failed: 0,
    delayMs: 0,
    maxInFlight: 0,
    requests: [] as string[],
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  let inFlight = 0;
  const server = http.createServer(async (req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    const matching = shouldFail(req);
    if (matching) {
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    }
    if (state.failing && matching) {
      state.failed++;
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected failure</Message></Error>',
        );
      });
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', (err) => res.destroy(err));
    req.pipe(forward);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
