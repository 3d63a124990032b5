// `faultline mock-server` over stdio with the official MCP SDK client: every
// tool, the resource and the prompt, progress, list_changed, cancellation, a
// crash, and the misbehaviours a client must survive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError, ErrorCode, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawn } from 'node:child_process';
import { BIN, timed } from './http-peers.mjs';

async function connect(options = [], { stderr = 'ignore' } = {}) {
  const transport = new StdioClientTransport({ command: BIN, args: ['mock-server', '--seed', '5', ...options], stderr });
  const client = new Client({ name: 'faultline-mock-e2e', version: '1.0.0' });
  const s = { client, transport, errors: [], closed: false };
  s.closedPromise = new Promise((r) => { client.onclose = () => { s.closed = true; r(); }; });
  client.onerror = (e) => s.errors.push(e);
  await client.connect(transport);
  return s;
}

const text = (r) => r.content[0].text;

test('every tool, the resource and the prompt answer the SDK client', async () => {
  const s = await connect();
  try {
    assert.equal(s.client.getServerVersion().name, 'faultline-mock');
    const { tools } = await s.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(),
      ['add', 'crash_after', 'echo', 'flaky', 'large', 'notify', 'progress', 'sleep']);
    assert.equal(text(await s.client.callTool({ name: 'echo', arguments: { message: 'hi' } })), 'Echo: hi');
    assert.equal(text(await s.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })), '3.0');
    assert.equal(text(await s.client.callTool({ name: 'large', arguments: { bytes: 1 << 20 } })).length, 1 << 20);
    const slept = await timed(s.client.callTool({ name: 'sleep', arguments: { ms: 200 } }));
    assert.ok(slept.ok && slept.ms >= 190, `sleep took ${slept.ms} ms`);
    const flaky = await s.client.callTool({ name: 'flaky', arguments: { p: 1 } });
    assert.equal(flaky.isError, true);
    const { resources } = await s.client.listResources();
    const read = await s.client.readResource({ uri: resources[0].uri });
    assert.match(read.contents[0].text, /mock MCP server/);
    const prompt = await s.client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    assert.equal(prompt.messages[0].content.text, 'Hello, Ada');
    await s.client.ping();
    const bad = await timed(s.client.callTool({ name: 'sleep', arguments: { ms: 'soon' } }));
    assert.equal(bad.ok, false);
    assert.ok(bad.error instanceof McpError);
    assert.equal(bad.error.code, ErrorCode.InvalidParams);
  } finally {
    await s.client.close();
  }
});

test('progress reaches onprogress; notify changes the tool list and says so', async () => {
  const s = await connect();
  try {
    const steps = [];
    const r = await s.client.callTool({ name: 'progress', arguments: { steps: 3, interval: 20 } }, undefined,
      { onprogress: (p) => steps.push(p.progress) });
    assert.equal(text(r), 'done 3 steps');
    // The server sends step 3 right before the result; the SDK handles
    // notifications a turn later than responses, so when both arrive in one
    // read the last step's handler is already gone (SDK 1.32.2).
    assert.deepEqual(steps.slice(0, 2), [1, 2]);
    assert.ok(steps.length <= 3);
    const changed = new Promise((resolve) => s.client.setNotificationHandler(ToolListChangedNotificationSchema, resolve));
    await s.client.callTool({ name: 'notify', arguments: {} });
    await changed;
    const { tools } = await s.client.listTools();
    assert.ok(tools.some((t) => t.name === 'extra_1'));
  } finally {
    await s.client.close();
  }
});

test('a call the client gives up on is cancelled; the server goes on', async () => {
  const s = await connect();
  try {
    const r = await timed(s.client.callTool({ name: 'sleep', arguments: { ms: 5000 } }, undefined, { timeout: 200 }));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.equal(text(await s.client.callTool({ name: 'echo', arguments: { message: 'still here' } })), 'Echo: still here');
  } finally {
    await s.client.close();
  }
});

test('crash_after: the n-th call gets no answer, the transport closes and the call fails', async () => {
  const s = await connect();
  assert.equal(text(await s.client.callTool({ name: 'crash_after', arguments: { n: 2 } })), 'call 1 of 2');
  const r = await timed(s.client.callTool({ name: 'crash_after', arguments: { n: 2 } }, undefined, { timeout: 5000 }));
  assert.equal(r.ok, false);
  assert.ok(r.ms < 4000, `noticed after ${r.ms} ms`);
  await s.closedPromise;
  assert.equal(s.closed, true);
});

test('misbehaviours: a banner breaks no session; a slow start delays initialize; a stall leaves calls hanging', async () => {
  const banner = await connect(['--banner', 'mock starting']);
  try {
    assert.equal(text(await banner.client.callTool({ name: 'echo', arguments: { message: 'x' } })), 'Echo: x');
    assert.ok(banner.errors.length >= 1, 'the SDK reports the non-JSON line');
  } finally {
    await banner.client.close();
  }

  const t0 = Date.now();
  const slow = await connect(['--slow-start', '400']);
  assert.ok(Date.now() - t0 >= 380, 'initialize waited for the slow start');
  await slow.client.close();

  // initialize is request 1: after it, nothing is answered, and the pipes stay open.
  const stalled = await connect(['--stall-after', '1']);
  try {
    const r = await timed(stalled.client.callTool({ name: 'echo', arguments: { message: 'x' } }, undefined, { timeout: 300 }));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.equal(stalled.closed, false);
  } finally {
    await stalled.client.close();
  }

  const late = await connect(['--answer-late', '300']);
  try {
    const r = await timed(late.client.callTool({ name: 'echo', arguments: { message: 'x' } }));
    assert.ok(r.ok && r.ms >= 290, `answered after ${r.ms} ms`);
  } finally {
    await late.client.close();
  }
});

test('over stdio the control endpoint works too: stall on and off, and a restart that resets the session', async () => {
  const s = await connect(['--control', '127.0.0.1:0'], { stderr: 'pipe' });
  try {
    let err = '';
    const control = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no control address: ${err}`)), 5000);
      const look = () => {
        const m = err.match(/control on (\S+)/);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      };
      s.transport.stderr.on('data', (d) => { err += d; look(); });
      look();
    });
    const patch = (body) => fetch(`${control}/behaviour`, { method: 'PATCH', body: JSON.stringify(body) });
    assert.equal((await patch({ stall: true })).status, 200);
    const r = await timed(s.client.callTool({ name: 'echo', arguments: { message: 'x' } }, undefined, { timeout: 300 }));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.equal((await patch({ stall: false })).status, 200);
    await s.client.callTool({ name: 'notify', arguments: {} });
    assert.equal((await s.client.listTools()).tools.length, 9);
    const sessions = await (await fetch(`${control}/sessions`)).json();
    assert.equal(sessions.sessions[0].id, 'stdio');
    assert.deepEqual(await (await fetch(`${control}/restart`, { method: 'POST' })).json(), { sessions: 1 });
    assert.equal((await s.client.listTools()).tools.length, 8, 'the restart forgot the added tool');
  } finally {
    await s.client.close();
  }
});

test('idle_exit: a client that is merely idle loses its server, which exits with code 4', async () => {
  const s = await connect(['--idle-exit', '400']);
  const t0 = Date.now();
  await s.client.ping();
  await s.closedPromise;  // nothing more was asked: the server went away under the idle client
  const idle = Date.now() - t0;
  assert.ok(idle >= 350 && idle < 3000, `exited after ${idle} ms`);
  const child = spawn(BIN, ['mock-server', '--idle-exit', '200'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const code = await new Promise((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 4);
});
