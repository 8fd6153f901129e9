import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of an S3 server that can be told to fail: while `failing` is set,
 * requests matching `shouldFail` get a 500 InternalError (what S3 answers when it has trouble);
 * the rest pass through untouched.
 */
export async function startFaultyProxy(
  target: string,
  shouldFail: (req: http.IncomingMessage) => boolean,
): Promise<{
  endpoint: string;
  failing: boolean;
  failed: number;
  /** "METHOD url" of every request seen. */
  requests: string[];
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  const state = {
    endpoint: '',
    failing: false,
    failed: 0,
    requests: [] as string[],
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    if (state.failing && shouldFail(req)) {
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
