// Node http server: write/writev and chunked bodies.
//   /chunked  three chunks, 60 ms apart (Transfer-Encoding: chunked)
//   /json     one JSON body with Content-Length
const http = require('http');
const port = Number(process.argv[2]);
http.createServer((req, res) => {
  if (req.url.startsWith('/chunked')) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first chunk\n');
    setTimeout(() => { res.write('second chunk\n'); setTimeout(() => res.end('last\n'), 60); }, 60);
  } else {
    const body = JSON.stringify({ ok: true, url: req.url });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}).listen(port, '127.0.0.1');
