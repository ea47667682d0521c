// Node http client: N sequential requests over one keep-alive connection.
// usage: node node_client.js URL N
const http = require('http');
const [url, n] = [process.argv[2], Number(process.argv[3] || 1)];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let done = 0;
function one() {
  http.get(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => { if (++done < n) one(); else { agent.destroy(); console.log('done', done); } });
  }).on('error', (e) => { console.error(e); process.exit(1); });
}
one();
