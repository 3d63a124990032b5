// Real peers for the http link's node tests: server-everything over
// Streamable HTTP or SSE on a free port, and `faultline proxy --protocol http`
// in front of it. FAULTLINE_BIN names the binary (default ../../build/cli/faultline).
import { spawn } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.FAULTLINE_BIN ?? resolve(here, '../../build/cli/faultline');
export const EVERYTHING = resolve(here, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const tmp = mkdtempSync(join(tmpdir(), 'faultline-http-'));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let runs = 0;

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

// A promise that settles to {ok, value|error, ms}.
export async function timed(promise) {
  const t0 = Date.now();
  try {
    return { ok: true, value: await promise, ms: Date.now() - t0 };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - t0 };
  }
}

async function waitForPort(port, child, what) {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const up = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (up) return;
    await sleep(25);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

// server-everything with transport 'streamableHttp' or 'sse'.
export async function startEverything(transport = 'streamableHttp') {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, transport], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitForPort(port, child, 'server-everything');
  return { port, child, stop: () => stopChild(child) };
}

// `faultline proxy` with one http link to `upstream`, and its event record.
export async function startFaultline(upstream, { faults = [] } = {}) {
  const port = await freePort();
  const events = join(tmp, `run${++runs}.jsonl`);
  const args = ['proxy', '--listen', `127.0.0.1:${port}`, '--upstream', `127.0.0.1:${upstream}`,
    '--protocol', 'http', '--seed', '1', '--events', events, ...faults.flatMap((f) => ['--fault', f])];
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(port, child, 'faultline');
  return {
    port,
    child,
    events: () => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []),
    stop: () => stopChild(child),
  };
}

// A fetch that keeps what crossed it: each request body sent, and each
// response body as received (appended chunk by chunk, so streams show up live).
export function recordingFetch(log) {
  return async (url, init = {}) => {
    if (init.body) log.push({ dir: 'sent', method: init.method, text: String(init.body) });
    const res = await fetch(url, init);
    if (!res.body) return res;
    const entry = { dir: 'received', method: init.method ?? 'GET', status: res.status, type: res.headers.get('content-type') ?? '', text: '' };
    log.push(entry);
    const [mine, theirs] = res.body.tee();
    (async () => {
      const reader = mine.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        entry.text += value;
      }
    })().catch(() => {});
    return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

// The JSON-RPC messages of a log, as text exactly as they crossed: request
// bodies, JSON response bodies, and the data of SSE events.
export function messages(log) {
  const out = [];
  for (const e of log) {
    if (e.dir === 'sent') out.push(`> ${e.text}`);
    else if (e.type.startsWith('application/json') && e.text) out.push(`< ${e.text}`);
    else if (e.type.startsWith('text/event-stream')) {
      for (const block of e.text.split('\n\n')) {
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data.startsWith('{') || data.startsWith('[')) out.push(`< ${data}`);
      }
    }
  }
  return out;
}
