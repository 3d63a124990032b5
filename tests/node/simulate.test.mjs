// `faultline simulate` end to end: one pass against server-everything on
// stdio, Streamable HTTP and the legacy SSE transport; each policy shown by
// the history the client writes, against `faultline mock-server` (stdio) and
// faults from faultline's own wrap and proxy.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, tmp, startEverything, startFaultline } from './http-peers.mjs';
import { simulate, of, assertHistory, outcomeOf, startMock, control } from './sim-peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const EVERYTHING_BIN = resolve(here, 'node_modules/.bin/mcp-server-everything');

function profile(name, body) {
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

function assertOnePass(r) {
  assert.equal(r.code, 0, r.stderr);
  assertHistory(r.events);
  const [init] = of(r.events, 'session.initialized');
  assert.equal(init.protocol_version, '2025-06-18');
  const [listed] = of(r.events, 'tools.listed');
  assert.ok(listed.count >= 10, `listed ${listed.count} tools`);
  const called = of(r.events, 'rpc.invoke').filter((e) => e.method === 'tools/call').map((e) => e.tool);
  assert.deepEqual(called, listed.names, 'every listed tool called once, in order');
  assert.match(r.stderr, /1 client\(s\), 1 started, 1 passed; calls ok \d+, fail 0, timeout 0, lost 0/);
  return init;
}

describe('one pass against server-everything', { concurrency: 3 }, () => {
  const servers = [];
  after(async () => { for (const s of servers) await s.stop(); });

  test('stdio', { timeout: 90_000 }, async () => {
    const r = await simulate(['--target', `stdio:${EVERYTHING_BIN} stdio`]);
    assertOnePass(r);
  });

  test('Streamable HTTP: a session id kept, the GET stream opened', { timeout: 90_000 }, async () => {
    const s = await startEverything('streamableHttp');
    servers.push(s);
    const r = await simulate([`http://127.0.0.1:${s.port}/mcp`]);
    const init = assertOnePass(r);
    assert.match(init.session, /^[0-9a-f-]{36}$/);
  });

  test('legacy HTTP+SSE', { timeout: 90_000 }, async () => {
    const s = await startEverything('sse');
    servers.push(s);
    const r = await simulate(['--transport', 'sse', `http://127.0.0.1:${s.port}/sse`]);
    assertOnePass(r);
  });
});

test('start-up errors: one line, exit 3 (unreachable) or 2 (bad options)', async () => {
  const refused = await simulate(['http://127.0.0.1:1/mcp']);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /cannot connect to 127\.0\.0\.1:1/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  const missing = await simulate(['--target', 'stdio:/nonexistent/server']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /cannot run "\/nonexistent\/server"/);
  const badKey = await simulate(['--profile', profile('bad', { request_timout_ms: 5 }), '--target', 'stdio:true']);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /\/request_timout_ms: unknown key; did you mean "request_timeout_ms"/);
  // Reached, but no session: the run fails (1) and says why in a line.
  const mute = await simulate(['--profile', profile('mute', { request_timeout_ms: 300 }), '--target', `stdio:${BIN} mock-server --stall-after 0`]);
  assert.equal(mute.code, 1);
  assert.match(mute.stderr, /could not set a session up; the first: client:1: initialize: no answer within 300 ms/);
  assert.equal(of(mute.events, 'rpc.timeout').length, 1);
});

const MOCK = `stdio:${BIN} mock-server`;

test('restart a dead stdio server: the call in flight is lost, the next one goes to the new server', async () => {
  const target = `stdio:${BIN} wrap --fault kill,after_ms=800 -- ${BIN} mock-server`;
  const calls = ['--tool', 'sleep={"ms":1500}', '--tool', 'echo={"message":"after"}'];
  const r = await simulate(['--target', target, ...calls]);
  assert.equal(r.code, 1, r.stderr);
  assertHistory(r.events);
  const [gone] = of(r.events, 'client.disconnected');
  assert.equal(gone.noticed_by, 'EOF');
  assert.match(gone.reason, /exited with code 137/);
  const lost = outcomeOf(r.events, 'sleep');
  assert.equal(lost.kind, 'rpc.lost');
  assert.ok(lost.ms >= 600 && lost.ms < 1400, `lost after ${lost.ms} ms`);
  assert.equal(of(r.events, 'client.reconnect_attempt').length, 1);
  assert.equal(of(r.events, 'client.reconnected').length, 1);
  assert.equal(of(r.events, 'session.initialized').length, 2);
  assert.equal(of(r.events, 'tools.listed').length, 2, 're-listed after the reconnect');
  assert.equal(outcomeOf(r.events, 'echo').kind, 'rpc.ok');

  // claude-code-like leaves a dead stdio server dead.
  const c = await simulate(['--profile', 'claude-code-like', '--target', target, ...calls]);
  assert.equal(c.code, 1);
  assertHistory(c.events);
  assert.equal(of(c.events, 'client.reconnect_attempt').length, 0);
  const echo = outcomeOf(c.events, 'echo');
  assert.equal(echo.kind, 'rpc.lost');
  assert.equal(echo.reason, 'not connected');
});

test('exponential backoff, the attempt counter kept (reset_attempts never), then gave up', async () => {
  // Every server this target starts is killed 400 ms later.
  const target = `stdio:${BIN} wrap --fault kill,after_ms=400 -- ${BIN} mock-server`;
  const p = profile('backoff', { reconnect: 'exponential', reconnect_delay_ms: 100, reconnect_multiplier: 2,
    reconnect_jitter: 0, max_attempts: 2, reset_attempts: 'never' });
  const sleep = 'sleep={"ms":5000}';
  const r = await simulate(['--profile', p, '--target', target, '--tool', sleep, '--tool', sleep, '--tool', sleep, '--tool', sleep]);
  assert.equal(r.code, 1);
  assertHistory(r.events);
  assert.deepEqual(of(r.events, 'client.reconnect_attempt').map((e) => [e.attempt, e.delay_ms]), [[1, 100], [2, 200]]);
  assert.equal(of(r.events, 'client.reconnected').length, 2);
  assert.equal(of(r.events, 'client.disconnected').length, 3);
  const [gaveUp] = of(r.events, 'client.gave_up');
  assert.equal(gaveUp.attempts, 2);
  assert.equal(of(r.events, 'rpc.lost').length, 3, 'each call dropped with its server');
  assert.equal(of(r.events, 'rpc.invoke').filter((e) => e.tool).length, 3, 'no call after the give-up');
  assert.match(r.stderr, /gave up 1/);
});

test('notifications/tools/list_changed: resilient lists again, sdk-default does not', async () => {
  const calls = ['--tool', 'notify', '--tool', 'echo={"message":"x"}', '--target', MOCK];
  const r = await simulate(['--profile', 'resilient', ...calls]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(of(r.events, 'notification.received').some((e) => e.method === 'notifications/tools/list_changed'));
  const listed = of(r.events, 'tools.listed');
  assert.equal(listed.length, 2);
  assert.ok(listed[1].names.includes('extra_1'));
  const s = await simulate(['--profile', 'sdk-default', ...calls]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(of(s.events, 'tools.listed').length, 1);
});

test('request timeout: rpc.timeout then notifications/cancelled; without cancel_on_give_up no cancel', async () => {
  const calls = ['--tool', 'echo={"message":"a"}', '--tool', 'echo={"message":"b"}'];
  const p = profile('short', { request_timeout_ms: 300 });
  const t0 = Date.now();
  const r = await simulate(['--profile', p, '--target', `${MOCK} --answer-late 3000`, ...calls]);
  assert.equal(r.code, 1);
  assert.ok(Date.now() - t0 < 2900, 'the client did not wait for the late answers');
  assertHistory(r.events);
  const timeouts = of(r.events, 'rpc.timeout');
  assert.equal(timeouts.length, 2);
  for (const t of timeouts) assert.ok(t.ms >= 290 && t.ms < 1000, `timed out after ${t.ms} ms`);
  assert.deepEqual(of(r.events, 'client.cancelled').map((e) => e.id), timeouts.map((e) => e.id));

  const quiet = await simulate(['--profile', profile('nocancel', { request_timeout_ms: 300, cancel_on_give_up: false }),
    '--target', `${MOCK} --answer-late 3000`, ...calls]);
  assert.equal(of(quiet.events, 'rpc.timeout').length, 2);
  assert.equal(of(quiet.events, 'client.cancelled').length, 0);
});

test('progress resets the request timeout, up to the hard maximum', async () => {
  const call = ['--tool', 'progress={"steps":8,"interval":100}', '--target', MOCK];
  const reset = await simulate(['--profile', profile('reset', { request_timeout_ms: 400, max_request_time_ms: null }), ...call]);
  assert.equal(reset.code, 0, reset.stderr);
  const ok = outcomeOf(reset.events, 'progress');
  assert.equal(ok.kind, 'rpc.ok');
  assert.ok(ok.ms >= 700, `answered after ${ok.ms} ms`);
  assert.ok(of(reset.events, 'notification.received').filter((e) => e.method === 'notifications/progress').length >= 7);

  const noReset = await simulate(['--profile', profile('noreset', { request_timeout_ms: 400, reset_timeout_on_progress: false }), ...call]);
  const t = outcomeOf(noReset.events, 'progress');
  assert.equal(t.kind, 'rpc.timeout');
  assert.ok(t.ms >= 390 && t.ms < 700, `timed out after ${t.ms} ms`);

  const capped = await simulate(['--profile', profile('capped', { request_timeout_ms: 400, max_request_time_ms: 550 }), ...call]);
  const c = outcomeOf(capped.events, 'progress');
  assert.equal(c.kind, 'rpc.timeout');
  assert.ok(c.ms >= 540 && c.ms < 800, `hard maximum after ${c.ms} ms`);
});

test('missed pings: a server that stops answering is dropped and restarted', async () => {
  const p = profile('pings', { ping_interval_ms: 200, missed_pings_limit: 2, reconnect: 'fixed', reconnect_delay_ms: 100,
    reconnect_jitter: 0, request_timeout_ms: 20000 });
  // The second call waits for the reconnect; the new server stalls after its handshake as well.
  const r = await simulate(['--profile', p, '--target', `${MOCK} --stall-after 2`, '--tool', 'echo={"message":"x"}',
    '--tool', 'add={"a":1,"b":2}']);
  assert.equal(r.code, 1);
  assertHistory(r.events);
  const [gone] = of(r.events, 'client.disconnected');
  assert.equal(gone.noticed_by, 'missed pings');
  const pingTimeouts = of(r.events, 'rpc.timeout');
  assert.ok(pingTimeouts.length >= 2);
  const echo = outcomeOf(r.events, 'echo');
  assert.equal(echo.kind, 'rpc.lost');
  assert.ok(echo.ms >= 500 && echo.ms < 3000, `dropped after ${echo.ms} ms`);
  const [attempt] = of(r.events, 'client.reconnect_attempt');
  assert.equal(attempt.delay_ms, 100);
  assert.ok(of(r.events, 'client.reconnected').length >= 1);
  assert.equal(of(r.events, 'session.initialized').length, 2);
  assert.equal(outcomeOf(r.events, 'add').kind, 'rpc.lost');
});

test('an expired session (HTTP 404): re-initialized by resilient, not by sdk-default', { timeout: 90_000 }, async () => {
  const upstream = await startEverything('streamableHttp');
  try {
    const calls = ['--tool', 'echo={"message":"one"}', '--tool', 'echo={"message":"two"}'];
    const run = async (name) => {
      const proxy = await startFaultline(upstream.port, { faults: ['forget_session,method=tools/call'] });
      try {
        return await simulate(['--profile', name, ...calls, `http://127.0.0.1:${proxy.port}/mcp`]);
      } finally {
        await proxy.stop();
      }
    };
    const r = await run('resilient');
    assertHistory(r.events);
    // A re-list that list_changed started on the old session may fail alike.
    const fails = of(r.events, 'rpc.fail');
    assert.ok(fails.length >= 1);
    for (const f of fails) assert.equal(f.code, 404);
    assert.equal(outcomeOf(r.events, 'echo').kind, 'rpc.fail');
    const [lost] = of(r.events, 'session.lost');
    assert.equal(lost.status, 404);
    const sessions = of(r.events, 'session.initialized').map((e) => e.session);
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[0], sessions[1]);
    const second = r.events.indexOf(of(r.events, 'session.initialized')[1]);
    assert.ok(r.events.slice(second).some((e) => e.kind === 'tools.listed'), 're-listed on the new session');
    const calls2 = of(r.events, 'rpc.invoke').filter((e) => e.tool === 'echo');
    assert.ok(r.events.find((e) => e.kind === 'rpc.ok' && e.id === calls2[1].id), 'the second call went through on the new session');

    const s = await run('sdk-default');
    assertHistory(s.events);
    assert.equal(of(s.events, 'session.initialized').length, 1);
    assert.equal(of(s.events, 'rpc.fail').length, 2, 'the session stays lost');
    assert.equal(s.code, 1);
  } finally {
    await upstream.stop();
  }
});

test('--list-profiles and --show-profile print JSON to copy', async () => {
  const list = await new Promise((res) => {
    const c = spawn(BIN, ['simulate', '--list-profiles']);
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('exit', (code) => res({ code, out }));
  });
  assert.equal(list.code, 0);
  for (const name of ['naive', 'sdk-default', 'claude-code-like', 'resilient']) assert.match(list.out, new RegExp(`^${name}: `, 'm'));
  const shown = await new Promise((res) => {
    const c = spawn(BIN, ['simulate', '--show-profile', 'sdk-default']);
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('exit', (code) => res({ code, out }));
  });
  const json = JSON.parse(shown.out);
  assert.equal(json.request_timeout_ms, 60000);
  assert.equal(json.reconnect_multiplier, 1.5);
  assert.equal(json.max_attempts, 2);
});

test('fail_pending_on_drop off: a call in flight when the server dies waits for its timeout instead', async () => {
  const target = `stdio:${BIN} wrap --fault kill,after_ms=500 -- ${BIN} mock-server`;
  const p = profile('no-fail-pending', { fail_pending_on_drop: false, request_timeout_ms: 1500, restart_stdio_server: false,
    reconnect: 'none' });
  const r = await simulate(['--profile', p, '--target', target, '--tool', 'sleep={"ms":3000}']);
  assert.equal(r.code, 1, r.stderr);
  assertHistory(r.events);
  assert.equal(of(r.events, 'client.disconnected').length, 1);
  const sleep = outcomeOf(r.events, 'sleep');
  assert.equal(sleep.kind, 'rpc.timeout');
  assert.ok(sleep.ms >= 1400 && sleep.ms < 2500, `timed out after ${sleep.ms} ms`);
});

test('an unknown session answered 400: reinitialize_on_400 starts a new one, sdk-default keeps failing', { timeout: 60_000 }, async () => {
  const m = await startMock(['--transport', 'http', '--unknown-session-status', '400']);
  try {
    const workload = join(tmp, 'echo-loop.json');
    writeFileSync(workload, JSON.stringify({ steps: [{ method: 'tools/call', tool: 'echo', arguments: { message: 'x' } }],
      think: '100ms', duration: '1600ms' }));
    const run = async (name) => {
      const pending = simulate(['--profile', name, '--workload', workload, m.url]);
      await new Promise((res) => setTimeout(res, 700));
      assert.equal((await control(m, 'POST', '/restart')).status, 200);  // every session forgotten
      return pending;
    };
    const r = await run('resilient');
    assertHistory(r.events);
    const lost = of(r.events, 'session.lost');
    assert.ok(lost.length >= 1 && lost.every((e) => e.status === 400), JSON.stringify(lost));
    const sessions = of(r.events, 'session.initialized').map((e) => e.session);
    assert.ok(sessions.length >= 2 && sessions[0] !== sessions.at(-1), JSON.stringify(sessions));
    const after = r.events.indexOf(of(r.events, 'session.initialized').at(-1));
    assert.ok(r.events.slice(after).some((e) => e.kind === 'rpc.ok'), 'calls go through on the new session');

    const s = await run('sdk-default');
    assertHistory(s.events);
    assert.equal(of(s.events, 'session.initialized').length, 1);
    const fails = of(s.events, 'rpc.fail');
    assert.ok(fails.length >= 3 && fails.every((e) => e.code === 400), `${fails.length} fails`);
    const lastOk = of(s.events, 'rpc.ok').at(-1);
    assert.ok(lastOk.t < fails[0].t, 'nothing succeeds after the restart');
  } finally {
    m.child.kill('SIGTERM');
  }
});

test('reset_attempts: a server that keeps dying is reconnected each time when the counter resets, given up on when not', { timeout: 60_000 }, async () => {
  // Each server child is killed 400 ms after it starts; one reconnect attempt allowed in a row.
  const target = `stdio:${BIN} wrap --fault kill,after_ms=400 -- ${BIN} mock-server`;
  const workload = join(tmp, 'echo-dying.json');
  writeFileSync(workload, JSON.stringify({ steps: [{ method: 'tools/call', tool: 'echo', arguments: { message: 'x' } }],
    think: '50ms', duration: '2s' }));
  const base = { reconnect: 'fixed', reconnect_delay_ms: 50, reconnect_jitter: 0, max_attempts: 1 };
  for (const [reset, keepsGoing] of [['reconnected', true], ['first_ok', true], ['never', false]]) {
    const r = await simulate(['--profile', profile(`reset-${reset}`, { ...base, reset_attempts: reset }), '--workload', workload,
      '--target', target]);
    assertHistory(r.events);
    const reconnected = of(r.events, 'client.reconnected').length;
    if (keepsGoing) {
      assert.ok(reconnected >= 3, `${reset}: reconnected ${reconnected} times`);
      assert.equal(of(r.events, 'client.gave_up').length, 0, reset);
    } else {
      assert.equal(reconnected, 1, `${reset}: reconnected ${reconnected} times`);
      assert.equal(of(r.events, 'client.gave_up').length, 1, reset);
    }
  }
});
