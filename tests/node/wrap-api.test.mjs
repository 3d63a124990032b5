// `faultline wrap --api`: Toxiproxy's node client (toxiproxy-node-client)
// changes the faults of a running stdio server, while the official SDK client
// talks to server-everything through it. A fault added acts on the live
// session at once; one removed lets go of what it held, and no message is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Toxiproxy } from 'toxiproxy-node-client';
import { freePort, sleep, timed } from './http-peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.FAULTLINE_BIN ?? resolve(here, '../../build/cli/faultline');
const SERVER = resolve(here, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const events = join(mkdtempSync(join(tmpdir(), 'faultline-wrap-api-')), 'events.jsonl');

let client, api, toxiproxy;
const echo = (message, timeout = 5000) => client.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout });
const text = (result) => result.content[0].text;
const toxicsOf = async (name) => (await fetch(`${api}/proxies/${name}/toxics`)).json();

before(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const transport = new StdioClientTransport({
    command: BIN,
    args: ['wrap', '--api', `127.0.0.1:${port}`, '--name', 'everything', '--seed', '3', '--events', events, '--',
      process.execPath, SERVER, 'stdio'],
    stderr: 'inherit',
  });
  client = new Client({ name: 'faultline-wrap-api', version: '1.0.0' });
  await client.connect(transport);  // the API is up before the server starts
  toxiproxy = new Toxiproxy(api);
});

after(async () => {
  await client.close();
});

test('the stdio link is listed as a proxy; its settings cannot change, only its faults', async () => {
  const proxy = await toxiproxy.get('everything');
  assert.equal(proxy.name, 'everything');
  assert.equal(proxy.listen, 'stdio');
  assert.match(proxy.upstream, /server-everything/);
  assert.deepEqual(await toxicsOf('everything'), []);
  const all = await (await fetch(`${api}/proxies`)).json();
  assert.deepEqual(Object.keys(all), ['everything']);
  const disable = await fetch(`${api}/proxies/everything`, { method: 'POST', body: JSON.stringify({ enabled: false }) });
  assert.equal(disable.status, 405);
  assert.match((await disable.json()).error, /only its faults change/);
});

test('a frame fault added live answers the next call; removed, calls reach the server again', async () => {
  assert.match(text(await echo('before')), /before/);
  const proxy = await toxiproxy.get('everything');
  const toxic = await proxy.addToxic({
    name: 'refuse', type: 'error', stream: 'upstream', toxicity: 1,
    match: { method: 'tools/call' }, attributes: { code: -32042, message: 'added live' },
  });
  const r = await timed(echo('during'));
  assert.equal(r.ok, false);
  assert.ok(r.error instanceof McpError);
  assert.equal(r.error.code, -32042);
  assert.ok((await client.listTools()).tools.length > 0, 'the match keeps tools/list untouched');
  await toxic.remove();
  assert.match(text(await echo('after')), /after/);
});

test('a byte fault added live delays the next reply; a reply it holds is let go at once when it is removed', async () => {
  const proxy = await toxiproxy.get('everything');
  const slow = await proxy.addToxic({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 300 } });
  const delayed = await timed(echo('slow'));
  assert.equal(delayed.ok, true);
  assert.ok(delayed.ms >= 290, `took ${delayed.ms} ms`);
  // A latency far longer than the test: the reply is held until the fault goes.
  await slow.update({ ...slow.toJson(), attributes: { latency: 60000 } });
  const pending = timed(echo('held', 10000));
  await sleep(300);
  await slow.remove();
  const held = await pending;
  assert.equal(held.ok, true, 'the held reply arrives');
  assert.match(text(held.value), /held/);
  assert.ok(held.ms < 3000, `took ${held.ms} ms`);
  assert.match(text(await echo('fast')), /fast/);
});

test('a scheduled fault through the API: count ends it after that many calls', async () => {
  const res = await fetch(`${api}/proxies/everything/toxics`, {
    method: 'POST',
    body: JSON.stringify({ name: 'twice', type: 'error', match: { method: 'tools/call' }, count: 2, attributes: { code: -32001 } }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).count, 2);
  for (const msg of ['one', 'two']) {
    const r = await timed(echo(msg));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, -32001);
  }
  assert.match(text(await echo('three')), /three/);
  await sleep(50);
  assert.deepEqual(await toxicsOf('everything'), [], 'a fault whose count is spent is gone');
  const lines = readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const end = lines.find((e) => e.kind === 'fault.end' && e.name === 'twice');
  assert.equal(end.reason, 'count_reached');
  assert.equal(end.injections, 2);
});
