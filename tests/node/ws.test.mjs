// End to end over WebSocket: the official MCP SDK client (WebSocketClientTransport)
// talks to a small MCP server built on the SDK's Server and the `ws` package,
// directly and through `faultline proxy --protocol websocket`, with and
// without faults, and checks what the client sees against what each fault
// promised. FAULTLINE_BIN names the binary (default ../../build/cli/faultline).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, WebSocket } from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FAULTLINE_BIN ?? resolve(here, '../../build/cli/faultline');
const tmp = mkdtempSync(join(tmpdir(), 'faultline-ws-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let runs = 0;

// The SDK's transport uses the global WebSocket (Node 20 has none): this one
// is `ws` and keeps a log of every text message each way, and the close code.
const sockets = [];
class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.log = [];
    this.closeCode = undefined;
    this.on('message', (data) => this.log.push(['in', data.toString()]));
    this.on('close', (code) => { this.closeCode = code; });
    sockets.push(this);
  }
  send(data, ...rest) {
    this.log.push(['out', String(data)]);
    return super.send(data, ...rest);
  }
}
globalThis.WebSocket = RecordingWebSocket;

// ---------------------------------------------------------------- the MCP server on ws

// A server transport over one `ws` connection; records what crossed.
class WsServerTransport {
  constructor(socket, log) {
    this.socket = socket;
    this.log = log;
  }
  async start() {
    this.socket.on('message', (data) => {
      const text = data.toString();
      this.log.push(['in', text]);
      let message;
      try {
        message = JSON.parse(text);
      } catch (error) {
        this.onerror?.(error);
        return;
      }
      this.onmessage?.(message);
    });
    this.socket.on('close', () => this.onclose?.());
    this.socket.on('error', (error) => this.onerror?.(error));
  }
  async send(message) {
    const text = JSON.stringify(message);
    this.log.push(['out', text]);
    this.socket.send(text);
  }
  async close() {
    this.socket.close();
  }
}

const TOOLS = [
  { name: 'echo', description: 'Echoes the message', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
  { name: 'add', description: 'Adds a and b', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } },
  { name: 'slow', description: 'Answers after ms', inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
];

function makeMcpServer() {
  const server = new Server({ name: 'ws-test-server', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args = {} } = request.params;
    if (name === 'echo') return { content: [{ type: 'text', text: `echo: ${args.message}` }] };
    if (name === 'add') return { content: [{ type: 'text', text: String(args.a + args.b) }] };
    if (name === 'slow') {
      await sleep(args.ms ?? 100);
      return { content: [{ type: 'text', text: 'slow done' }] };
    }
    throw new McpError(-32602, `unknown tool ${name}`);
  });
  return server;
}

const serverLogs = [];  // one log per accepted connection
let wss;
let serverPort;

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false) });
  await new Promise((r) => wss.on('listening', r));
  serverPort = wss.address().port;
  wss.on('connection', (socket) => {
    const log = [];
    serverLogs.push(log);
    makeMcpServer().connect(new WsServerTransport(socket, log));
  });
});

after(async () => {
  for (const s of wss.clients) s.terminate();
  await new Promise((r) => wss.close(r));
});

// ---------------------------------------------------------------- faultline

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(20);
  }
  throw new Error(`faultline did not listen on ${port}`);
}

// Starts `faultline proxy --protocol websocket` in front of the server.
async function startProxy(faults = []) {
  const port = await freePort();
  const events = join(tmp, `run${++runs}.jsonl`);
  const args = ['proxy', '--listen', `127.0.0.1:${port}`, '--upstream', `127.0.0.1:${serverPort}`, '--protocol', 'websocket',
    '--seed', '1', '--events', events, '--grace', '0.5', ...faults.flatMap((f) => ['--fault', f])];
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  await waitForPort(port);
  return {
    port,
    events: () => readEvents(events),
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function readEvents(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Connects an SDK client over WebSocket to `port`.
async function connect(port) {
  const transport = new WebSocketClientTransport(new URL(`ws://127.0.0.1:${port}/mcp`));
  const client = new Client({ name: 'faultline-ws-e2e', version: '1.0.0' });
  const s = { client, transport, errors: [], closed: false };
  s.closedPromise = new Promise((r) => { client.onclose = () => { s.closed = true; r(); }; });
  client.onerror = (e) => s.errors.push(e);
  await client.connect(transport);
  s.socket = transport._socket;
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

// Runs one client session against `faults` and hands it to `body`.
async function withProxy(faults, body) {
  const proxy = await startProxy(faults);
  const s = await connect(proxy.port);
  try {
    await body(s, proxy);
  } finally {
    await s.close();
    assert.equal(await proxy.stop(), 0, proxy.stderr());
  }
  return proxy;
}

const injections = (proxy, type) => proxy.events().filter((e) => e.kind === 'fault.inject' && e.type === type);

// ---------------------------------------------------------------- no faults

test('without faults a session through faultline equals a direct one, byte for byte', async () => {
  const script = async (s) => {
    const tools = await s.client.listTools();
    const e = await echo(s.client, 'hello \u00e9\u20ac');
    const sum = await s.client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    const big = await echo(s.client, 'x'.repeat(100000));
    await s.client.ping();
    return { tools, e, sum, big, server: s.client.getServerVersion() };
  };
  const direct = await connect(serverPort);
  const directLog = serverLogs.at(-1);
  const a = await script(direct);
  await direct.close();

  const proxy = await startProxy();
  const proxied = await connect(proxy.port);
  const proxiedLog = serverLogs.at(-1);
  const b = await script(proxied);
  await proxied.close();
  await sleep(100);
  assert.equal(await proxy.stop(), 0);

  assert.deepEqual(b, a);
  assert.equal(a.tools.tools.length, 3);
  assert.equal(proxied.errors.length, 0);
  // Same messages, byte for byte, on both sides.
  assert.deepEqual(proxied.socket.log, direct.socket.log);
  assert.deepEqual(proxiedLog, directLog);
  assert.ok(proxiedLog.length >= 10);

  const events = proxy.events();
  const init = events.find((e) => e.kind === 'session.initialize');
  assert.equal(init.clientInfo.name, 'faultline-ws-e2e');
  assert.ok(init.protocolVersion);
  assert.ok(events.some((e) => e.kind === 'session.initialized' && e.serverInfo.name === 'ws-test-server'));
  assert.ok(events.some((e) => e.kind === 'tools.listed' && e.count === 3));
  const calls = events.filter((e) => e.kind === 'rpc.response' && e.method === 'tools/call');
  assert.equal(calls.length, 3);
  assert.ok(calls.every((e) => e.ok && e.latency_ms >= 0 && e.conn === init.conn));
  assert.ok(events.some((e) => e.kind === 'ws.open' && e.subprotocol === 'mcp'));
  assert.ok(events.some((e) => e.kind === 'conn.close' && e.closed_by === 'client'));
});

test('pings cross to the server and its pongs come back', async () => {
  await withProxy([], async (s) => {
    let pongs = 0;
    s.socket.on('pong', () => { pongs++; });
    s.socket.ping('hi');
    await sleep(200);
    assert.equal(pongs, 1);
  });
});

// ---------------------------------------------------------------- one test per frame fault

test('drop: a dropped tool call reply times out; other calls work', async () => {
  const proxy = await withProxy(['drop,method=tools/call,id=1'], async (s) => {
    const r = await timed(echo(s.client, 'lost', 400));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, -32001);  // RequestTimeout
    assert.equal((await echo(s.client, 'next')).content[0].text, 'echo: next');
  });
  assert.equal(injections(proxy, 'drop').length, 1);
});

test('delay: a delayed reply arrives after the delay', async () => {
  await withProxy(['delay,method=tools/call,delay=300'], async (s) => {
    const r = await timed(echo(s.client, 'late'));
    assert.ok(r.ok);
    assert.ok(r.ms >= 290, `took ${r.ms} ms`);
  });
});

test('duplicate: the reply arrives twice; the SDK reports the second as unknown', async () => {
  await withProxy(['duplicate,method=tools/call'], async (s) => {
    assert.equal((await echo(s.client, 'twice')).content[0].text, 'echo: twice');
    await sleep(100);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
    const replies = s.socket.log.filter(([dir, text]) => dir === 'in' && text.includes('echo: twice'));
    assert.equal(replies.length, 2);
  });
});

test('reorder: a held reply comes after the next message', async () => {
  await withProxy(['reorder,method=tools/call,id=1,after=1'], async (s) => {
    const [a, b] = await Promise.all([echo(s.client, 'first'), echo(s.client, 'second')]);
    assert.equal(a.content[0].text, 'echo: first');
    assert.equal(b.content[0].text, 'echo: second');
    const order = s.socket.log.filter(([dir, t]) => dir === 'in' && t.includes('echo: ')).map(([, t]) => JSON.parse(t).id);
    assert.deepEqual(order, [2, 1]);
  });
});

test('malformed: broken JSON reaches the client, which reports it; the call times out', async () => {
  await withProxy(['malformed,method=tools/call,mode=invalid_json'], async (s) => {
    const r = await timed(echo(s.client, 'broken', 400));
    assert.equal(r.ok, false);
    assert.ok(s.errors.some((e) => e instanceof SyntaxError), String(s.errors));
  });
});

test('malformed unknown_id: the reply carries an id the client never sent', async () => {
  await withProxy(['malformed,method=tools/call,mode=unknown_id'], async (s) => {
    const r = await timed(echo(s.client, 'who', 400));
    assert.equal(r.ok, false);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
  });
});

test('error: faultline answers a call with an error; the server never sees it', async () => {
  const before = serverLogs.length;
  await withProxy(['error,method=tools/call,code=-32042,message=injected'], async (s) => {
    const r = await timed(echo(s.client, 'refused'));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, -32042);
    const log = serverLogs[before];
    assert.ok(!log.some(([, t]) => t.includes('refused')));
    assert.equal((await s.client.listTools()).tools.length, 3);
  });
});

test('late_response: the reply comes after the client gave up, as an unknown id', async () => {
  await withProxy(['late_response,method=tools/call,delay=700'], async (s) => {
    const r = await timed(echo(s.client, 'too late', 300));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, -32001);
    assert.equal((await s.client.listTools()).tools.length, 3);  // later messages pass it
    await sleep(600);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
  });
});

test('banner: a text message that is not JSON-RPC reaches the client', async () => {
  await withProxy(['banner,method=tools/call,text=hello from a log line'], async (s) => {
    await echo(s.client, 'after banner');
    assert.ok(s.errors.some((e) => e instanceof SyntaxError));
    assert.ok(s.socket.log.some(([dir, t]) => dir === 'in' && t === 'hello from a log line'));
  });
});

// ---------------------------------------------------------------- WebSocket faults

test('ws_close: the client sees the close code the fault names and closes', async () => {
  await withProxy(['ws_close,method=tools/call,code=4000,reason=bye'], async (s) => {
    const r = await timed(echo(s.client, 'closing', 2000));
    assert.equal(r.ok, false);
    await s.closedPromise;
    assert.equal(s.socket.closeCode, 4000);
  });
});

test('fragment: a reply in several frames is joined by the client', async () => {
  const proxy = await withProxy(['fragment,method=tools/call,count=4'], async (s) => {
    assert.equal((await echo(s.client, 'in pieces')).content[0].text, 'echo: in pieces');
  });
  assert.ok(injections(proxy, 'fragment').some((e) => e.frames === 4));
});

test('swallow_pongs: pings get no pong while calls still work', async () => {
  await withProxy(['swallow_pongs'], async (s) => {
    let pongs = 0;
    s.socket.on('pong', () => { pongs++; });
    s.socket.ping('anyone?');
    assert.equal((await echo(s.client, 'still flowing')).content[0].text, 'echo: still flowing');
    await sleep(300);
    assert.equal(pongs, 0);
  });
});

// ---------------------------------------------------------------- byte faults under the WebSocket

test('latency (a byte fault) slows every round trip', async () => {
  await withProxy(['latency,stream=downstream,latency=150'], async (s) => {
    const r = await timed(echo(s.client, 'slow bytes'));
    assert.ok(r.ok);
    assert.ok(r.ms >= 140, `took ${r.ms} ms`);
  });
});

test('reset_peer (a byte fault) resets the connection during the upgrade; connect fails', async () => {
  const proxy = await startProxy(['reset_peer,stream=downstream,timeout=100']);
  try {
    const r = await timed(connect(proxy.port));
    assert.equal(r.ok, false);
    assert.ok(r.ms >= 90, `failed after ${r.ms} ms`);
  } finally {
    assert.equal(await proxy.stop(), 0);
  }
  assert.ok(proxy.events().some((e) => e.kind === 'conn.close' && e.how === 'fault'));
});

// ---------------------------------------------------------------- shutdown

test('SIGTERM drains: the client gets close 1001 (going away)', async () => {
  const proxy = await startProxy();
  const s = await connect(proxy.port);
  await s.client.listTools();
  assert.equal(await proxy.stop(), 0);
  await s.closedPromise;
  assert.equal(s.socket.closeCode, 1001);
  assert.ok(proxy.events().some((e) => e.kind === 'conn.close'));
});
