// `faultline simulate --workload` against `faultline mock-server --transport
// http`: the open model keeps its schedule and counts what it cannot start,
// the closed model brings clients in as its stages rise, steps come by weight,
// and a bad workload file is refused with the place named.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from './http-peers.mjs';
import { startMock, control, simulate, of, assertHistory } from './sim-peers.mjs';

let files = 0;
function workload(body) {
  const file = join(tmp, `workload${++files}.json`);
  writeFileSync(file, JSON.stringify(body));
  return file;
}

let mock;
after(() => mock?.child.kill('SIGTERM'));

test('constant-arrival-rate: every scheduled call starts, on time, by weight', { timeout: 60_000 }, async () => {
  mock ??= await startMock(['--transport', 'http']);
  const file = workload({
    steps: [
      { method: 'tools/call', tool: 'echo', arguments: { message: 'hi' }, weight: 3 },
      { method: 'tools/call', tool: 'add' },  // arguments made up from its schema
      { method: 'resources/read' },
      { method: 'ping' },
    ],
    load: { executor: 'constant-arrival-rate', rate: 100, duration: '2s' },
  });
  const r = await simulate(['--clients', '10', '--workload', file, mock.url]);
  assert.equal(r.code, 0, r.stderr);
  assertHistory(r.events);
  const end = of(r.events, 'run.end')[0];
  assert.equal(end.load.started, 200);
  assert.equal(end.load.dropped, 0);
  assert.ok(end.load.start_lateness_ms.p99 < 50, `p99 lateness ${end.load.start_lateness_ms.p99} ms`);
  const invokes = of(r.events, 'rpc.invoke');
  const count = (pred) => invokes.filter(pred).length;
  const echo = count((e) => e.tool === 'echo');
  const add = count((e) => e.tool === 'add');
  const reads = count((e) => e.method === 'resources/read');
  const pings = count((e) => e.method === 'ping');
  assert.equal(echo + add + reads + pings, 200);
  assert.ok(echo > 90 && echo < 150, `echo ${echo} of 200 (weight 3 of 6)`);
  assert.ok(add > 15 && pings > 15 && reads > 15, `add ${add}, ping ${pings}, read ${reads}`);
  // Each client found the resource to read once, by listing.
  assert.ok(count((e) => e.method === 'resources/list') <= 10);
  // Calls spread over the clients.
  assert.equal(new Set(invokes.filter((e) => e.tool === 'echo').map((e) => e.source)).size, 10);
  assert.match(r.stderr, /workload: 200 steps started, 0 dropped/);
});

test('the open model drops what no free client can take, and says so', { timeout: 60_000 }, async () => {
  mock ??= await startMock(['--transport', 'http']);
  // 50 calls a second of 200 ms each need 10 clients; 2 take about 10 a second.
  const file = workload({
    steps: [{ method: 'tools/call', tool: 'sleep', arguments: { ms: 200 } }],
    load: { executor: 'constant-arrival-rate', rate: 50, duration: '2s' },
  });
  const r = await simulate(['--clients', '2', '--workload', file, mock.url]);
  assert.equal(r.code, 0, r.stderr);
  const { load } = of(r.events, 'run.end')[0];
  assert.equal(load.started + load.dropped, 100);
  assert.ok(load.started >= 14 && load.started <= 26, `started ${load.started}`);
  assert.ok(load.peak_busy <= 2);
});

test('ramping-vus: clients join as the stages rise; as many connect as the peak needs', { timeout: 60_000 }, async () => {
  mock ??= await startMock(['--transport', 'http']);
  const file = workload({
    steps: [{ method: 'tools/call', tool: 'sleep', arguments: { ms: 20 } }],
    think: '10ms',
    load: { executor: 'ramping-vus', startVUs: 1, stages: [{ duration: '1200ms', target: 4 }, { duration: '600ms', target: 4 }] },
  });
  const r = await simulate(['--workload', file, mock.url]);
  assert.equal(r.code, 0, r.stderr);
  assertHistory(r.events);
  assert.equal(of(r.events, 'session.initialized').length, 4);
  const first = {};
  for (const e of of(r.events, 'rpc.invoke')) if (e.tool === 'sleep') first[e.source] ??= e.t;
  assert.deepEqual(Object.keys(first).sort(), ['client:1', 'client:2', 'client:3', 'client:4']);
  // Client 4 joins once the target passes 3.5, about 1 s in; client 1 from the start.
  assert.ok(first['client:4'] - first['client:1'] > 0.7, JSON.stringify(first));
  assert.ok(first['client:2'] < first['client:4']);
});

test('a stalled server under load: calls time out, the clients notice, the history stays whole', { timeout: 60_000 }, async () => {
  const m = await startMock(['--transport', 'http']);
  try {
    const profile = join(tmp, 'short-timeout.json');
    writeFileSync(profile, JSON.stringify({ base: 'resilient', request_timeout_ms: 300, ping_interval_ms: null }));
    const file = workload({
      steps: [{ method: 'tools/call', tool: 'echo', arguments: { message: 'x' } }],
      load: { executor: 'constant-arrival-rate', rate: 20, duration: '2s' },
    });
    const run = simulate(['--clients', '8', '--profile', profile, '--workload', file, m.url]);
    await new Promise((res) => setTimeout(res, 800));
    assert.equal((await control(m, 'PATCH', '/behaviour', { stall: true })).status, 200);
    const r = await run;
    assert.equal(r.code, 1, r.stderr);
    assertHistory(r.events);
    const timeouts = of(r.events, 'rpc.timeout');
    const calls = new Set(of(r.events, 'rpc.invoke').filter((e) => e.method === 'tools/call').map((e) => `${e.source}#${e.id}`));
    const oks = of(r.events, 'rpc.ok').filter((e) => calls.has(`${e.source}#${e.id}`));
    assert.ok(timeouts.length >= 5, `${timeouts.length} timeouts`);
    assert.ok(oks.length >= 5, `${oks.length} answered before the stall`);
    // Nothing answered after the stall began was ok.
    const stalledAt = Math.min(...timeouts.map((e) => e.t - e.ms / 1000));
    assert.ok(!oks.some((e) => e.t - e.ms / 1000 > stalledAt + 0.05));
  } finally {
    m.child.kill('SIGTERM');
  }
});

for (const transport of ['http', 'sse', 'ws']) {
  test(`one pass against the mock over ${transport}`, { timeout: 30_000 }, async () => {
    const m = await startMock(['--transport', transport]);
    try {
      const args = ['--clients', '3', '--tool', 'echo={"message":"hi"}', '--tool', 'add', '--tool', 'notify', '--tool', 'extra_1={"message":"x"}'];
      if (transport === 'sse') args.push('--transport', 'sse');
      const r = await simulate([...args, m.url]);
      assert.equal(r.code, 0, r.stderr);
      assertHistory(r.events);
      assert.equal(of(r.events, 'session.initialized').length, 3);
      // notify adds extra_1 and says so; each client re-lists (and calls it: its
      // arguments are given, the new schema may not have arrived yet).
      assert.equal(of(r.events, 'rpc.invoke').filter((e) => e.method === 'tools/call').length, 12);
      assert.equal(of(r.events, 'rpc.fail').length, 0);
      assert.ok(of(r.events, 'notification.received').some((e) => e.method === 'notifications/tools/list_changed'));
    } finally {
      m.child.kill('SIGTERM');
    }
  });
}

test('bad workloads and options: one line naming the place, exit 2, nothing run', { timeout: 30_000 }, async () => {
  const typo = workload({ steps: [{ method: 'ping', wieght: 2 }] });
  let r = await simulate(['--workload', typo, 'http://127.0.0.1:1/mcp']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/steps\/0\/wieght: unknown key; did you mean "weight"\?/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const badRate = workload({ steps: [{ method: 'ping' }], load: { executor: 'constant-arrival-rate', rate: -1, duration: '1s' } });
  r = await simulate(['--workload', badRate, 'http://127.0.0.1:1/mcp']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\/load\/rate: must be from 0/);
  const ramp = workload({ steps: [{ method: 'ping' }], load: { executor: 'ramping-vus', stages: [{ duration: '1s', target: 5 }] } });
  r = await simulate(['--clients', '2', '--workload', ramp, 'http://127.0.0.1:1/mcp']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--clients: 2 is fewer than the 5 clients/);
  r = await simulate(['--workload', ramp, '--tool', 'echo', 'http://127.0.0.1:1/mcp']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tool: conflicts with --workload/);
  assert.equal(of(r.events, 'rpc.invoke').length, 0);
});
