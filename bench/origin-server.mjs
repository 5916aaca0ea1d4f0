// The benchmark's origin, in its own process so it never competes with the bench's own
// event loop: answers every request with a small JSON body. Prints "ready PORT".
import http from 'node:http';

const body = JSON.stringify({ message: 'hello from the origin' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), server: 'bench-origin' });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
