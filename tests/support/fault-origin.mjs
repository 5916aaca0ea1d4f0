// An origin that misbehaves on command, by path (the fault matrix, tests/e2e/faults.test.mjs):
//   /reset-after-headers   200 headers and 1 KiB of a declared 1 MiB body, then a TCP reset
//   /slow-headers?ms=N     response headers after N ms
//   /slow-body?ms=N        headers at once, then the body's second half after N ms
//   /status/NNN            answers NNN with a JSON body and Retry-After: 7
//   /reason-tab            200 whose reason phrase holds a tab (RFC 9112 allows it)
//   /hop                   hop-by-hop headers plus one named in its own Connection header
//   /big-headers?kb=N      a response with one N KiB header
//   /large?mb=N            N MiB streamed in 64 KiB chunks (backpressure respected)
//   /gzip                  a gzip-encoded body with its Content-Length (bytes in `gzipBody`)
//   /upload                counts the request body's bytes and answers { bytes }
//   anything else          200 { ok: true }
// Every request is recorded: { method, url, headers, bytes (body bytes received),
// complete (the body ended normally) }.
import http from 'node:http';
import zlib from 'node:zlib';

/** The exact bytes /gzip answers with. */
export const gzipBody = zlib.gzipSync(Buffer.from(JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ id: i })) })), { level: 1 });

export async function startFaultOrigin() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://origin');
    const record = { method: req.method, url: req.url, headers: { ...req.headers }, bytes: 0, complete: false };
    requests.push(record);
    req.on('data', (chunk) => { record.bytes += chunk.length; });
    req.on('aborted', () => { record.aborted = true; });
    const ms = Number(url.searchParams.get('ms') ?? 0);
    const later = (fn, delay) => setTimeout(fn, delay).unref();
    const answer = () => {
      if (res.destroyed) return;
      const path = url.pathname;
      if (path === '/reset-after-headers') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1 << 20) });
        res.write(Buffer.alloc(1024, 97), () => later(() => req.socket.resetAndDestroy(), 50));
      } else if (path === '/slow-headers') {
        later(() => { if (!res.destroyed) res.end(JSON.stringify({ ok: true })); }, ms);
      } else if (path === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
        res.write('hello');
        later(() => { if (!res.destroyed) res.end('world'); }, ms);
      } else if (path.startsWith('/status/')) {
        res.writeHead(Number(path.slice(8)), { 'content-type': 'application/json', 'retry-after': '7' });
        res.end(JSON.stringify({ from: 'origin' }));
      } else if (path === '/reason-tab') {
        res.writeHead(200, 'O\tK', { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      } else if (path === '/hop') {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, X-Hop-Test',
          'keep-alive': 'timeout=5',
          'x-hop-test': 'must not reach the client',
          'proxy-connection': 'keep-alive',
          'x-kept': 'yes',
        });
        res.end('{}');
      } else if (path === '/big-headers') {
        res.writeHead(200, { 'x-big': 'b'.repeat(Number(url.searchParams.get('kb') ?? 64) * 1024) });
        res.end('{}');
      } else if (path === '/large') {
        const total = Number(url.searchParams.get('mb') ?? 1) * (1 << 20);
        const chunk = Buffer.alloc(64 * 1024, 120);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
        let sent = 0;
        const pump = () => {
          while (sent < total && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      } else if (path === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(gzipBody.length) });
        res.end(gzipBody);
      } else if (path === '/upload') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes: record.bytes }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      }
    };
    req.on('end', () => { record.complete = true; answer(); });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    reset() { requests.length = 0; },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
