// Node http server: write/writev and chunked bodies.
//   /chunked  three chunks, 60 ms apart (Transfer-Encoding: chunked)
//   /json     one JSON body with Content-Length
//   /fail     500 with a short body
// TLS_CERT and TLS_KEY in the environment: HTTPS (ALPN http/1.1).
const http = require('http');
const https = require('https');
const fs = require('fs');
const port = Number(process.argv[2]);
const handler = (req, res) => {
  if (req.url.startsWith('/fail')) {
    res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': 5 });
    res.end('fail\n');
  } else if (req.url.startsWith('/chunked')) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first chunk\n');
    setTimeout(() => { res.write('second chunk\n'); setTimeout(() => res.end('last\n'), 60); }, 60);
  } else {
    const body = JSON.stringify({ ok: true, url: req.url });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
};
const server = process.env.TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT),
    key: fs.readFileSync(process.env.TLS_KEY), ALPNProtocols: ['http/1.1'] }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1');
