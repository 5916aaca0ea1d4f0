// The recording origin of the tests: answers every request with a JSON echo of what it
// received (the x-entra-* identity, every header name, the body), and remembers each request
// so tests can check exactly what reached the origin. (`make dev` runs examples/origin.)
import http from 'node:http';

export class RecordingOrigin {
  constructor() {
    this.requests = [];
    /** Optional hook: (record) => ({ status, headers, body, delayMs }) to vary the answer. */
    this.behaviour = null;
    this.server = null;
    this.url = null;
  }

  async listen(port = 0, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const record = { method: req.method, url: req.url, headers: { ...req.headers }, body };
        if (this.record !== false) this.requests.push(record);
        const identity = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-entra-')));
        const custom = this.behaviour?.(record) ?? {};
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(custom.status ?? 200, { 'content-type': 'application/json', 'x-origin': 'demo', ...(custom.headers ?? {}) });
          res.end(custom.body ?? JSON.stringify({ message: 'hello from the origin', method: req.method, path: req.url, identity, received_headers: Object.keys(req.headers).sort(), body }));
        };
        // unref: a delayed answer must not keep a test process alive after the server closed.
        if (custom.delayMs) setTimeout(answer, custom.delayMs).unref();
        else answer();
      });
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    this.url = `http://${host}:${this.server.address().port}`;
    return this;
  }

  /** Forgets what was recorded so far. */
  reset() {
    this.requests = [];
    this.behaviour = null;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export async function startOrigin(port = 0) {
  return new RecordingOrigin().listen(port);
}
