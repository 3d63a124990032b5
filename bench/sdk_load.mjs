// The reference load for bench/sim_scale.sh: the official TypeScript SDK client
// (Client + StreamableHTTPClientTransport) holding N sessions against a
// Streamable HTTP server and starting calls at a fixed total rate, round-robin
// over the sessions (the open model, as `faultline simulate` does with
// constant-arrival-rate). Prints one JSON line: sessions opened, calls ok and
// failed, how late call starts were, this process's peak RSS and CPU time.
//
// node bench/sdk_load.mjs --url http://127.0.0.1:PORT/mcp --sessions N --rate R --seconds S [--tool echo]
import { createRequire } from 'node:module';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../tests/node/package.json'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const opts = { url: '', sessions: 100, rate: 100, seconds: 10, tool: 'echo', connectConcurrency: 64 };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
  if (!(key in opts)) { console.error(`sdk_load: unknown option ${process.argv[i]}`); process.exit(2); }
  opts[key] = typeof opts[key] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
if (!opts.url) { console.error('sdk_load: --url is required'); process.exit(2); }

function peakRssKb() {
  const m = readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}

const clients = [];
let connectFailed = 0;
const t0 = performance.now();
let next = 0;
async function opener() {
  while (next < opts.sessions) {
    next++;
    const client = new Client({ name: 'sdk-load', version: '1' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(opts.url)));
      clients.push(client);
    } catch {
      connectFailed++;
    }
  }
}
await Promise.all(Array.from({ length: opts.connectConcurrency }, opener));
const connectSeconds = (performance.now() - t0) / 1000;
const afterConnectRss = Number(readFileSync('/proc/self/status', 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

let ok = 0, failed = 0, inFlight = 0;
const lateness = [];
const cpu0 = process.cpuUsage();
const start = performance.now();
const total = Math.floor(opts.rate * opts.seconds);
const pending = [];
await new Promise((done) => {
  let k = 0;
  const tick = () => {
    const now = performance.now();
    while (k < total && start + ((k + 0.5) * 1000) / opts.rate <= now) {
      const due = start + ((k + 0.5) * 1000) / opts.rate;
      lateness.push(now - due);
      const client = clients[k % clients.length];
      k++;
      inFlight++;
      pending.push(client.callTool({ name: opts.tool, arguments: { message: 'hi' } })
        .then(() => { ok++; }, () => { failed++; })
        .finally(() => { inFlight--; }));
    }
    if (k >= total) return done();
    const wait = start + ((k + 0.5) * 1000) / opts.rate - performance.now();
    setTimeout(tick, Math.max(0, wait));
  };
  tick();
});
await Promise.allSettled(pending);
const cpu = process.cpuUsage(cpu0);
lateness.sort((a, b) => a - b);
const q = (p) => (lateness.length ? lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))] : 0);
console.log(JSON.stringify({
  tool: 'sdk', sessions: clients.length, connect_failed: connectFailed, connect_s: +connectSeconds.toFixed(2),
  calls_ok: ok, calls_failed: failed, seconds: +((performance.now() - start) / 1000).toFixed(2),
  cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2),
  late_p50_ms: +q(0.5).toFixed(2), late_p99_ms: +q(0.99).toFixed(2),
  rss_after_connect_kb: afterConnectRss, peak_rss_kb: peakRssKb(),
}));
await Promise.allSettled(clients.map((c) => c.close()));
process.exit(0);
