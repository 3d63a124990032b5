// `faultline mock-server` over its network transports with the official MCP
// SDK client: Streamable HTTP, the legacy HTTP+SSE transport and WebSocket.
// On each: list tools, call echo, add and progress, and get
// notifications/tools/list_changed from the notify tool. Then, over Streamable
// HTTP, misbehaviours flipped through the control endpoint while connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { BIN, tmp, timed } from './http-peers.mjs';
import { startMock, control } from './sim-peers.mjs';

// The SDK's WebSocket transport uses the global WebSocket; Node 20 has none.
globalThis.WebSocket ??= WebSocket;

const transports = {
  http: (url) => new StreamableHTTPClientTransport(new URL(url)),
  sse: (url) => new SSEClientTransport(new URL(url)),
  ws: (url) => new WebSocketClientTransport(new URL(url)),
};

const text = (r) => r.content[0].text;

for (const [name, make] of Object.entries(transports)) {
  test(`the SDK client works against the mock over ${name}`, { timeout: 30_000 }, async () => {
    const m = await startMock(['--transport', name]);
    const client = new Client({ name: 'faultline-mock-net', version: '1.0.0' });
    await client.connect(make(m.url));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'progress'));
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: name } })), `Echo: ${name}`);
      assert.equal(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })), '5.0');
      const steps = [];
      const r = await client.callTool({ name: 'progress', arguments: { steps: 3, interval: 20 } }, undefined,
        { onprogress: (p) => steps.push(p.progress) });
      assert.equal(text(r), 'done 3 steps');
      assert.deepEqual(steps.slice(0, 2), [1, 2]);
      const changed = new Promise((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, resolve));
      await client.callTool({ name: 'notify', arguments: {} });
      await changed;
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'extra_1'));
      const { body } = await control(m, 'GET', '/sessions');
      assert.equal(body.sessions.length, 1);
      assert.ok(body.sessions[0].requests >= 6);
    } finally {
      await client.close();
      m.child.kill('SIGTERM');
      assert.equal(await m.exited, 0);
    }
  });
}

test('over Streamable HTTP: a restart makes the old session 404, a drop loses progress, a stall times out', { timeout: 30_000 }, async () => {
  const events = join(tmp, 'mock-net-events.jsonl');
  const m = await startMock(['--transport', 'http', '--events', events, '--force']);
  const client = new Client({ name: 'faultline-mock-net', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(m.url));
  await client.connect(transport);
  try {
    const old = transport.sessionId;
    assert.match(old, /^[0-9a-f]{32}$/);
    assert.deepEqual((await control(m, 'PATCH', '/behaviour', { drop_notifications: ['notifications/progress'] })).status, 200);
    const steps = [];
    await client.callTool({ name: 'progress', arguments: { steps: 2, interval: 5 } }, undefined,
      { onprogress: (p) => steps.push(p.progress) });
    assert.deepEqual(steps, [], 'dropped notifications never reach the client');

    assert.equal((await control(m, 'PATCH', '/behaviour', { stall: true })).status, 200);
    const stalled = await timed(client.callTool({ name: 'echo', arguments: { message: 'x' } }, undefined, { timeout: 300 }));
    assert.equal(stalled.ok, false);
    await control(m, 'PATCH', '/behaviour', { stall: false });

    assert.deepEqual((await control(m, 'POST', '/restart')).body, { sessions: 1 });
    const lost = await timed(client.callTool({ name: 'echo', arguments: { message: 'x' } }, undefined, { timeout: 3000 }));
    assert.equal(lost.ok, false);
    assert.match(String(lost.error), /404|Session not found/);
  } finally {
    await client.close().catch(() => {});
    m.child.kill('SIGTERM');
    await m.exited;
  }
  const kinds = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const of = (k) => kinds.filter((e) => e.kind === k);
  assert.equal(of('server.session.created').length, 1);
  assert.ok(of('server.notification').filter((e) => e.dropped && e.method === 'notifications/progress').length === 2);
  assert.equal(of('server.restart')[0].sessions, 1);
  assert.equal(of('server.session.closed')[0].reason, 'restart');
  assert.ok(of('server.behaviour').length === 3);
  assert.equal(of('server.exit')[0].reason, 'SIGTERM');
});
