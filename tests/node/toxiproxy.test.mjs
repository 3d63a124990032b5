// Toxiproxy's own node client (toxiproxy-node-client from npm) drives
// `faultline proxy` unchanged: create a proxy, add, read, update and remove
// each toxic, populate, reset; and the toxics act on real traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Toxiproxy } from 'toxiproxy-node-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.FAULTLINE_BIN ?? path.join(here, '../../build/cli/faultline');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForApi(url, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`faultline exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/version`);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('admin API did not come up');
}

// An echo server for traffic through the proxies.
let echo, echoPort, faultline, api, toxiproxy;

before(async () => {
  echo = net.createServer((sock) => {
    sock.on('error', () => {});  // resets are what some tests are about
    sock.pipe(sock);
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = echo.address().port;
  const apiPort = await freePort();
  faultline = spawn(bin, ['proxy', '--api', `127.0.0.1:${apiPort}`, '--seed', '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  api = `http://127.0.0.1:${apiPort}`;
  await waitForApi(api, faultline);
  toxiproxy = new Toxiproxy(api);
});

after(async () => {
  const exited = new Promise((r) => faultline.once('exit', (code) => r(code)));
  faultline.kill('SIGTERM');
  assert.equal(await exited, 0, 'faultline exits 0 on SIGTERM');
  echo.close();
});

// Sends `msg` and resolves with [reply, milliseconds] or rejects with the socket error.
function roundTrip(port, msg, { timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = net.connect(port, '127.0.0.1', () => sock.write(msg));
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('timeout')); }, timeoutMs);
    sock.on('data', (d) => {
      got += d;
      if (got.length >= msg.length) {
        clearTimeout(timer);
        sock.end();
        resolve([got, performance.now() - t0]);
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { clearTimeout(timer); if (got.length < msg.length) reject(new Error(`closed after ${got.length} bytes`)); });
  });
}

test('version answers', async () => {
  const v = await toxiproxy.getVersion();
  assert.match(v, /version/);
});

test('create a proxy, list it, update it, traffic flows', async () => {
  const listenPort = await freePort();
  const proxy = await toxiproxy.createProxy({ name: 'echo', listen: `127.0.0.1:${listenPort}`, upstream: `127.0.0.1:${echoPort}` });
  assert.equal(proxy.name, 'echo');
  assert.equal(proxy.enabled, true);
  const all = await toxiproxy.getAll();
  assert.ok(all.echo);
  assert.equal(all.echo.upstream, `127.0.0.1:${echoPort}`);
  const [reply] = await roundTrip(listenPort, 'hello');
  assert.equal(reply, 'hello');

  const disabled = await proxy.update({ name: 'echo', listen: proxy.listen, upstream: proxy.upstream, enabled: false });
  assert.equal(disabled.enabled, false);
  await assert.rejects(roundTrip(listenPort, 'x'));
  const enabled = await proxy.update({ name: 'echo', listen: proxy.listen, upstream: proxy.upstream, enabled: true });
  assert.equal(enabled.enabled, true);
  assert.equal((await roundTrip(listenPort, 'back'))[0], 'back');
  await assert.rejects(toxiproxy.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}` }), /409/);
});

test('every Toxiproxy toxic: add, get, update, remove', async () => {
  const proxy = await toxiproxy.get('echo');
  const toxics = [
    { type: 'latency', attributes: { latency: 40, jitter: 0 } },
    { type: 'bandwidth', attributes: { rate: 1000 } },
    { type: 'slow_close', attributes: { delay: 10 } },
    { type: 'timeout', attributes: { timeout: 100 } },
    { type: 'reset_peer', attributes: { timeout: 10 } },
    { type: 'slicer', attributes: { average_size: 10, size_variation: 2, delay: 5 } },
    { type: 'limit_data', attributes: { bytes: 100 } },
  ];
  for (const t of toxics) {
    const name = `${t.type}_test`;
    const toxic = await proxy.addToxic({ name, type: t.type, stream: 'downstream', toxicity: 1, attributes: t.attributes });
    assert.equal(toxic.name, name);
    assert.equal(toxic.type, t.type);
    assert.equal(toxic.stream, 'downstream');
    assert.equal(toxic.toxicity, 1);
    assert.deepEqual(toxic.attributes, t.attributes);
    const fetched = await proxy.getToxic(name);
    assert.deepEqual(fetched.toJson(), toxic.toJson());
    const updated = await toxic.update({ ...toxic.toJson(), toxicity: 0.5 });
    assert.equal(updated.toxicity, 0.5);
    await toxic.remove();
    await assert.rejects(proxy.getToxic(name), /404/);
  }
});

test('the toxics act on traffic: latency, then reset_peer, then removal', async () => {
  const proxy = await toxiproxy.get('echo');
  const port = Number(proxy.listen.split(':').pop());
  const lat = await proxy.addToxic({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 80, jitter: 0 } });
  const [, ms] = await roundTrip(port, 'ping');
  assert.ok(ms >= 79, `round trip ${ms} ms with 80 ms latency`);
  await lat.remove();
  const rst = await proxy.addToxic({ name: 'rst', type: 'reset_peer', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
  await assert.rejects(roundTrip(port, 'boom'), (e) => e.code === 'ECONNRESET');
  await rst.remove();
  assert.equal((await roundTrip(port, 'fine'))[0], 'fine');
});

test("faultline's own toxics go through the same client: half_open swallows, slow_open delays", async () => {
  const proxy = await toxiproxy.get('echo');
  const port = Number(proxy.listen.split(':').pop());
  const ho = await proxy.addToxic({ name: 'blackhole', type: 'half_open', stream: 'downstream', toxicity: 1, attributes: {} });
  await assert.rejects(roundTrip(port, 'lost', { timeoutMs: 300 }), /timeout/);
  await ho.remove();
  const so = await proxy.addToxic({ name: 'cold', type: 'slow_open', stream: 'upstream', toxicity: 1, attributes: { delay: 150 } });
  const [, ms] = await roundTrip(port, 'late');
  assert.ok(ms >= 145, `first round trip ${ms} ms with slow_open 150 ms`);
  await so.remove();
});

test('populate creates several proxies; reset removes toxics and re-enables', async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const proxies = await toxiproxy.populate([
    { name: 'one', listen: `127.0.0.1:${p1}`, upstream: `127.0.0.1:${echoPort}`, enabled: true },
    { name: 'two', listen: `127.0.0.1:${p2}`, upstream: `127.0.0.1:${echoPort}`, enabled: false },
  ]);
  assert.deepEqual(Object.keys(proxies).sort(), ['one', 'two']);
  await proxies.one.addToxic({ name: 'hold', type: 'timeout', stream: 'upstream', toxicity: 1, attributes: { timeout: 0 } });
  await toxiproxy.reset();
  const all = await toxiproxy.getAll();
  assert.equal(all.two.enabled, true);
  assert.equal((await roundTrip(p1, 'after reset'))[0], 'after reset');
  assert.equal((await roundTrip(p2, 'two works'))[0], 'two works');
  await proxies.one.remove();
  await assert.rejects(toxiproxy.get('one'), /404/);
});

test('bad input answers 400 with a JSON error body', async () => {
  const r = await fetch(`${api}/proxies/echo/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', attributes: { latency: -3 } }) });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.status, 400);
  assert.match(body.error, /latency/);
  const m = await fetch(`${api}/metrics`);
  assert.match(await m.text(), /faultline_connections_total\{link="echo"\}/);
});
