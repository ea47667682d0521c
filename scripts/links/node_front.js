// The node front of scripts/links.py: each request calls NEXT and answers after it.
const http = require('http');
const [port, next] = process.argv.slice(2);
http.createServer((req, res) => {
  http.get(next + req.url, (r) => {
    r.resume();
    r.on('end', () => res.end('front ' + req.url + '\n'));
  }).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
}).listen(+port, '127.0.0.1');
