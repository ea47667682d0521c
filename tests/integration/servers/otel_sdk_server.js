// A service instrumented with the OpenTelemetry SDK for Node: answers GET
// by calling NEXT and exports its own spans over OTLP/HTTP to OTLP_URL.
// usage: NODE_PATH=build/otel-sdk/node_modules node otel_sdk_server.js PORT NEXT
// The agent must join its traces, not fork them, and not add a second
// traceparent to the requests it sends.
// Instrumentations first: http must be patched before anything loads it
// (the exporter does).
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { Resource } = require('@opentelemetry/resources');

const provider = new NodeTracerProvider({ resource: new Resource({ 'service.name': 'sdk-svc' }) });
provider.addSpanProcessor(new SimpleSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_URL })));
provider.register();

const http = require('http');
const [port, next] = [Number(process.argv[2]), process.argv[3]];
http.createServer((req, res) => {
  http.get(next, (r) => {
    let body = '';
    r.on('data', (d) => { body += d; });
    r.on('end', () => {
      res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  }).on('error', (e) => { res.writeHead(502); res.end(String(e)); });
}).listen(port, '127.0.0.1');
