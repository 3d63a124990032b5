// End to end over stdio: the official MCP SDK client (StdioClientTransport)
// launches `faultline wrap -- node server-everything stdio`, with and without
// frame faults, and checks what the client sees against what each fault
// promised. Also the process contract: exit codes, signals, shutdown order.
// FAULTLINE_BIN names the binary (default ../../build/cli/faultline).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError, ErrorCode } from '@modelcontextprotocol/sdk/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FAULTLINE_BIN ?? resolve(here, '../../build/cli/faultline');
const SERVER = resolve(here, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const tmp = mkdtempSync(join(tmpdir(), 'faultline-stdio-'));
let runs = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readEvents(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Connects an SDK client to server-everything, through faultline unless `direct`.
async function connect({ faults = [], direct = false } = {}) {
  const events = join(tmp, `run${++runs}.jsonl`);
  const args = direct
    ? [SERVER, 'stdio']
    : ['wrap', '--seed', '1', '--events', events, ...faults.flatMap((f) => ['--fault', f]), '--', process.execPath, SERVER, 'stdio'];
  const transport = new StdioClientTransport({ command: direct ? process.execPath : BIN, args, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'faultline-e2e', version: '1.0.0' });
  const s = { client, transport, errors: [], closed: false, events, stderr: () => stderr };
  s.closedPromise = new Promise((r) => { client.onclose = () => { s.closed = true; r(); }; });
  client.onerror = (e) => s.errors.push(e);
  await client.connect(transport);
  let exitCode;
  transport._process?.once('exit', (code, signal) => { exitCode = code ?? signal; });
  s.exitCode = () => exitCode;
  s.close = async () => { await client.close().catch(() => {}); };
  return s;
}

// A promise that settles to {ok, value|error, ms}.
async function timed(promise) {
  const t0 = Date.now();
  try {
    return { ok: true, value: await promise, ms: Date.now() - t0 };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - t0 };
  }
}

const echo = (client, message, timeout = 5000) =>
  client.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout });

test('without faults the session through faultline equals a direct session', async () => {
  const direct = await connect({ direct: true });
  const wrapped = await connect();
  try {
    const [a, b] = [await direct.client.listTools(), await wrapped.client.listTools()];
    assert.deepEqual(b, a);
    assert.ok(b.tools.length > 5);
    assert.deepEqual(await echo(wrapped.client, 'hello'), await echo(direct.client, 'hello'));
    const sum1 = await direct.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
    const sum2 = await wrapped.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
    assert.deepEqual(sum2, sum1);
    assert.equal(wrapped.errors.length, 0);
    assert.deepEqual(wrapped.client.getServerVersion(), direct.client.getServerVersion());
  } finally {
    await direct.close();
    await wrapped.close();
  }
  await wrapped.closedPromise;
  await sleep(200);
  const ev = readEvents(wrapped.events);
  const kinds = ev.map((e) => e.kind);
  const init = ev.find((e) => e.kind === 'session.initialize');
  assert.equal(init.clientInfo.name, 'faultline-e2e');
  assert.ok(init.protocolVersion);
  assert.ok(ev.find((e) => e.kind === 'session.initialized').serverInfo.name);
  assert.ok(ev.find((e) => e.kind === 'tools.listed').count > 5);
  const call = ev.find((e) => e.kind === 'rpc.response' && e.method === 'tools/call');
  assert.ok(call.latency_ms >= 0);
  assert.ok(kinds.includes('rpc.notification'));
  assert.ok(kinds.includes('server.shutdown'), 'shutdown recorded');
  assert.ok(kinds.includes('server.exit'));
  assert.equal(ev.filter((e) => e.kind === 'rpc.unanswered').length, 0);
});

test('drop: the dropped response makes the request time out; the session goes on', async () => {
  const s = await connect({ faults: ['drop,kind=response,method=tools/call'] });
  try {
    const r = await timed(echo(s.client, 'lost', 1000));
    assert.equal(r.ok, false);
    assert.ok(r.error instanceof McpError);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.ok((await s.client.listTools()).tools.length > 0);
  } finally {
    await s.close();
  }
  await s.closedPromise;
  await sleep(100);
  const inject = readEvents(s.events).filter((e) => e.kind === 'fault.inject');
  assert.equal(inject.length, 1);
  assert.equal(inject[0].method, 'tools/call');
});

test('error: the client gets an McpError with the injected code; the server never sees the request', async () => {
  const s = await connect({ faults: ['error,method=tools/call,code=-32042,message=injected by faultline'] });
  try {
    const r = await timed(echo(s.client, 'x'));
    assert.equal(r.ok, false);
    assert.ok(r.error instanceof McpError);
    assert.equal(r.error.code, -32042);
    assert.match(r.error.message, /injected by faultline/);
  } finally {
    await s.close();
  }
  await s.closedPromise;
  await sleep(100);
  const resp = readEvents(s.events).find((e) => e.kind === 'rpc.response' && e.method === 'tools/call');
  assert.equal(resp.injected, true);
  assert.equal(resp.error_code, -32042);
});

test('banner: the SDK reports the non-JSON line through onerror and the session continues', async () => {
  const s = await connect({ faults: ['banner,kind=response,method=tools/list,text=Server ready on stdio!'] });
  try {
    const tools = await s.client.listTools();
    assert.ok(tools.tools.length > 0);
    assert.equal(s.errors.length, 1);
    assert.match(String(s.errors[0]), /JSON/);
    assert.equal(s.closed, false);
    assert.ok(await echo(s.client, 'still here'));
  } finally {
    await s.close();
  }
});

test('kill: the server dies on tools/call; the pending call fails, onclose fires, the exit code is 128+9', async () => {
  const s = await connect({ faults: ['kill,method=tools/call'] });
  const r = await timed(echo(s.client, 'die'));
  assert.equal(r.ok, false);
  assert.equal(r.error.code, ErrorCode.ConnectionClosed);
  await s.closedPromise;
  assert.equal(s.closed, true);
  await sleep(100);
  assert.equal(s.exitCode(), 137);
  const exit = readEvents(s.events).find((e) => e.kind === 'server.exit');
  assert.equal(exit.signal, 'SIGKILL');
});

test('late_response: the reply comes after the client timed out and is discarded as unknown', async () => {
  // ids: initialize 0, tools/list 1, the first tools/call 2
  const s = await connect({ faults: ['late_response,id=2,delay=1500'] });
  try {
    await s.client.listTools();
    const r = await timed(echo(s.client, 'late', 500));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    const next = await timed(echo(s.client, 'next'));
    assert.equal(next.ok, true, 'later replies pass the held one');
    assert.ok(next.ms < 1000);
    await sleep(1500);
    assert.ok(s.errors.some((e) => /unknown message ID/.test(String(e))), String(s.errors));
  } finally {
    await s.close();
  }
});

test('delay: responses arrive late but intact', async () => {
  const s = await connect({ faults: ['delay,kind=response,method=tools/list,delay=700'] });
  try {
    const r = await timed(s.client.listTools());
    assert.equal(r.ok, true);
    assert.ok(r.ms >= 650, `${r.ms} ms`);
  } finally {
    await s.close();
  }
});

test('duplicate: the second copy is reported as an unknown message ID', async () => {
  const s = await connect({ faults: ['duplicate,kind=response,method=tools/call'] });
  try {
    assert.ok(await echo(s.client, 'twice'));
    await sleep(200);
    assert.ok(s.errors.some((e) => /unknown message ID/.test(String(e))), String(s.errors));
  } finally {
    await s.close();
  }
});

test('reorder: two replies swapped still reach the right callers', async () => {
  const s = await connect({ faults: ['reorder,kind=response,method=tools/call,after=1'] });
  try {
    const order = [];
    const a = echo(s.client, 'first').then((v) => { order.push('first'); return v; });
    const b = echo(s.client, 'second').then((v) => { order.push('second'); return v; });
    const [ra, rb] = await Promise.all([a, b]);
    assert.match(JSON.stringify(ra), /first/);
    assert.match(JSON.stringify(rb), /second/);
    assert.deepEqual(order, ['second', 'first']);
  } finally {
    await s.close();
  }
});

test('stop with duration: the call stalls while the server is paused, then completes', async () => {
  const s = await connect({ faults: ['stop,method=tools/call,duration=1200'] });
  try {
    const r = await timed(echo(s.client, 'paused', 5000));
    assert.equal(r.ok, true);
    assert.ok(r.ms >= 1100, `${r.ms} ms`);
  } finally {
    await s.close();
  }
});

test('close_stdout: the client reads EOF but is not told; the call hangs until its timeout', async () => {
  const s = await connect({ faults: ['close_stdout,kind=response,method=tools/call'] });
  try {
    const r = await timed(echo(s.client, 'gone', 1000));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.equal(s.closed, false, 'the SDK does not notice a closed stdout while the process lives');
  } finally {
    await s.close();
  }
  await s.closedPromise;
});

// What the SDK does with each malformed reply to tools/list (recorded, asserted as observed).
const malformedCases = [
  ['invalid_json', 'timeout'],
  ['truncate', 'timeout'],
  ['embedded_newline', 'timeout'],
  ['missing_jsonrpc', 'timeout'],
  ['wrong_jsonrpc', 'timeout'],
  ['wrong_id', 'accepted'],  // the SDK matches the string id "2" to its request 2
  ['unknown_id', 'timeout'],
  ['strip_field', 'timeout'],
  ['result_and_error', 'timeout'],
  ['invalid_utf8', 'accepted'],
  ['oversized,size=11534336', 'closed'],
];
for (const [mode, expect] of malformedCases) {
  test(`malformed ${mode}: ${expect}`, async () => {
    const s = await connect({ faults: [`malformed,mode=${mode},kind=response,method=tools/list`] });
    let r;
    try {
      r = await timed(s.client.listTools(undefined, { timeout: 1000 }));
      if (expect === 'timeout') {
        assert.equal(r.ok, false);
        assert.equal(r.error.code, ErrorCode.RequestTimeout, String(r.error));
        assert.ok(s.errors.length >= 1, 'the SDK reported the bad message');
        assert.ok(await echo(s.client, 'after'), 'the session goes on');
      } else if (expect === 'accepted') {
        assert.equal(r.ok, true, String(r.error));
        assert.ok(r.value.tools.length > 0);
      } else if (expect === 'closed') {
        assert.equal(r.ok, false);
        await s.closedPromise;
        assert.ok(s.errors.some((e) => /maximum size|exceeded/i.test(String(e))), String(s.errors));
      }
      console.log(`# malformed ${mode}: ok=${r.ok} ${r.ok ? '' : r.error.code + ' ' + r.error.message} errors=${s.errors.map(String).join(' | ').slice(0, 200)}`);
    } finally {
      await s.close();
    }
  });
}

// ---------------------------------------------------------------- the process contract

function runWrap(args, { stdin = 'pipe', env } = {}) {
  const child = spawn(BIN, ['wrap', ...args], { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((r) => child.on('close', (code, signal) => r({ code, signal, stdout, stderr })));
  return { child, done };
}

test('exit status passes through: a code, a signal as 128+N, 127 for a missing command, 2 for bad faults', async () => {
  assert.equal((await runWrap(['--', 'sh', '-c', 'exit 3']).done).code, 3);
  assert.equal((await runWrap(['--', 'sh', '-c', 'kill -TERM $$']).done).code, 143);
  assert.equal((await runWrap(['--', '/nonexistent/server']).done).code, 127);
  const bad = await runWrap(['--fault', 'error,stream=downstream', '--', 'true']).done;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /stream must be upstream/);
});

test('an immediately exiting child is recorded, its stderr passed through and recorded', async () => {
  const events = join(tmp, 'exit.jsonl');
  const r = await runWrap(['--events', events, '--', 'sh', '-c', 'echo oops >&2; exit 5']).done;
  assert.equal(r.code, 5);
  assert.match(r.stderr, /oops/);
  const ev = readEvents(events);
  assert.equal(ev.find((e) => e.kind === 'server.exit').exit_code, 5);
  assert.equal(ev.find((e) => e.kind === 'server.stderr').line, 'oops');
});

test('bytes pass through unchanged, including a line that is not JSON', async () => {
  const { child, done } = runWrap(['--', 'cat']);
  const input = '{"jsonrpc":"2.0","id":1,"method":"x"}\r\nnot json at all\n{"jsonrpc":"2.0","method":"n"}\n';
  child.stdin.end(input);
  const r = await done;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, input);
});

test('--max-message: a longer line is recorded as invalid and passed on whole; frame faults still act after it', async () => {
  const line = (size) => {  // a notification of exactly `size` bytes
    const head = '{"jsonrpc":"2.0","method":"pad","params":{"p":"';
    return head + 'p'.repeat(size - head.length - 3) + '"}}';
  };
  // After the long line, one notification for each direction's drop fault:
  // they are dropped only if each direction decodes again after the long line.
  const upDrop = '{"jsonrpc":"2.0","method":"drop-up"}';
  const downDrop = '{"jsonrpc":"2.0","method":"drop-down"}';
  const input = [line(1000), line(1024), line(2000), upDrop, downDrop, line(100)].join('\n') + '\n';
  const faults = ['--fault', 'drop,stream=upstream,method=drop-up', '--fault', 'drop,stream=downstream,method=drop-down'];
  const run = async (args) => {
    const events = join(tmp, `max-message${++runs}.jsonl`);
    const { child, done } = runWrap(['--events', events, ...args, ...faults, '--', 'cat']);
    child.stdin.end(input);
    return { ...(await done), events: readEvents(events) };
  };
  const expected = [line(1000), line(1024), line(2000), line(100)].join('\n') + '\n';

  const small = await run(['--max-message', '1024']);
  assert.equal(small.code, 0);
  assert.deepEqual(small.stdout.split('\n').map((l) => l.length), [1000, 1024, 2000, 100, 0]);
  assert.equal(small.stdout, expected);
  // One record each way (client to cat, cat back to the client), where the third line went over.
  for (const from of ['client', 'server']) {
    const invalid = small.events.filter((e) => e.kind === 'rpc.invalid' && e.from === from);
    assert.equal(invalid.length, 1, from);
    assert.match(invalid[0].reason, /^line longer than 1024 bytes/);
    assert.equal(invalid[0].offset, 1000 + 1 + 1024 + 1 + 1024);
    assert.equal(invalid[0].bytes, 1024);
  }
  const dropped = small.events.filter((e) => e.kind === 'fault.inject').map((e) => e.method).sort();
  assert.deepEqual(dropped, ['drop-down', 'drop-up']);

  // Without it (4 MiB) the same input crosses the same way, nothing invalid.
  const whole = await run([]);
  assert.equal(whole.code, 0);
  assert.equal(whole.stdout, expected);
  assert.equal(whole.events.filter((e) => e.kind === 'rpc.invalid').length, 0);

  const bad = await runWrap(['--max-message', '100', '--', 'true']).done;
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-message/);
});

test('signals are forwarded: SIGINT to faultline reaches the server, whose exit code comes back', async () => {
  const { child, done } = runWrap(['--', process.execPath, '-e',
    'process.on("SIGINT", () => process.exit(42)); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)']);
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGINT');
  assert.equal((await done).code, 42);
});

test('shutdown order when the caller closes stdin: wait, SIGTERM, wait, SIGKILL', async () => {
  const events = join(tmp, 'shutdown.jsonl');
  // Ignores both the end of its input and SIGTERM: only SIGKILL ends it.
  const { child, done } = runWrap(['--events', events, '--shutdown-ms', '300', '--', 'sh', '-c',
    'trap "" TERM; echo ready; while true; do sleep 0.05; done']);
  await new Promise((r) => child.stdout.once('data', r));
  const t0 = Date.now();
  child.stdin.end();
  const r = await done;
  const ms = Date.now() - t0;
  assert.equal(r.code, 137);
  assert.ok(ms >= 550 && ms < 3000, `${ms} ms`);
  const signals = readEvents(events).filter((e) => e.kind === 'server.signal').map((e) => e.signal);
  assert.deepEqual(signals, ['SIGTERM', 'SIGKILL']);

  // A server that exits when its stdin closes gets no signal at all.
  const polite = await (async () => {
    const w = runWrap(['--', 'cat']);
    w.child.stdin.end();
    return w.done;
  })();
  assert.equal(polite.code, 0);
});

// Byte faults on a stdio link act on the bytes written to each side.
test('byte fault latency delays what the client is sent, measured from arrival', async () => {
  const s = await connect({ faults: ['latency,stream=downstream,latency=300'] });
  try {
    const r = await timed(echo(s.client, 'slow'));
    assert.ok(r.ok, String(r.error));
    assert.ok(r.ms >= 290, `echo took ${r.ms} ms`);
    assert.ok(r.ms < 1500, `echo took ${r.ms} ms`);
    const injected = readEvents(s.events).filter((e) => e.kind === 'fault.inject' && e.fault === 'latency_downstream');
    assert.ok(injected.length >= 1);
  } finally {
    await s.close();
  }
});

test('byte fault slicer cuts the server stdin into pieces: the server still parses every line', async () => {
  const s = await connect({ faults: ['slicer,stream=upstream,average_size=7,size_variation=3,delay=200'] });
  try {
    const r = await timed(echo(s.client, 'x'.repeat(300)));
    assert.ok(r.ok, String(r.error));
    assert.equal(r.value.content[0].text, 'Echo: ' + 'x'.repeat(300));
  } finally {
    await s.close();
  }
});

test('byte fault limit_data ends the session: the client sees its transport close', async () => {
  const s = await connect({ faults: ['limit_data,stream=downstream,bytes=3000'] });
  try {
    const first = await timed(s.client.listTools());  // a few KB: crosses the limit
    await Promise.race([s.closedPromise, sleep(5000)]);
    assert.ok(s.closed || !first.ok, 'the client should notice the end of the stream');
    const events = readEvents(s.events);
    assert.ok(events.some((e) => e.kind === 'stdio.close_output'), 'faultline closed the outputs');
  } finally {
    await s.close();
  }
});
