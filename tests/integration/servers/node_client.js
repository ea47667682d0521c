// Node http(s) client: N sequential requests over one keep-alive connection.
// usage: node node_client.js URL N   (https: the certificate is not checked)
const http = require('http');
const https = require('https');
const [url, n] = [process.argv[2], Number(process.argv[3] || 1)];
const mod = url.startsWith('https:') ? https : http;
const agent = new mod.Agent({ keepAlive: true, maxSockets: 1 });
let done = 0;
function one() {
  mod.get(url, { agent, rejectUnauthorized: false }, (res) => {
    res.resume();
    res.on('end', () => { if (++done < n) one(); else { agent.destroy(); console.log('done', done); } });
  }).on('error', (e) => { console.error(e); process.exit(1); });
}
one();
