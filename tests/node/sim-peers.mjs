// Peers for the simulator's and the mock server's tests: `faultline
// mock-server` started on a transport (with its control endpoint), `faultline
// simulate` run to its end with its history read back, and the history's
// first rule checked (every rpc.invoke has exactly one completion).
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tmp } from './http-peers.mjs';

const children = [];
after(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

// Starts the mock (with a control endpoint); resolves once it says where it listens.
export function startMock(args, { control = true } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['mock-server', '--seed', '3', ...(control ? ['--control', '127.0.0.1:0'] : []), ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    const m = { child, url: null, control: null };
    m.exited = new Promise((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`mock-server did not start:\n${err}`)), 10_000);
    child.stderr.on('data', (d) => {
      err += d;
      m.url ??= err.match(/listening on (\S+)/)?.[1];
      m.control ??= err.match(/control on (\S+)/)?.[1];
      if (m.url && (m.control || !control)) { clearTimeout(timer); resolve(m); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`mock-server exited with ${code}:\n${err}`)); });
  });
}

export async function control(m, method, path, body) {
  const r = await fetch(m.control + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

let runs = 0;

// Runs `faultline simulate ARGS`; its exit code, stderr and events.
export function simulate(args, { timeoutMs = 60_000 } = {}) {
  const events = join(tmp, `sim${++runs}.jsonl`);
  return new Promise((res, rej) => {
    const child = spawn(BIN, ['simulate', '--seed', '7', '--events', events, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);  // the hang guard
    child.on('error', rej);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      res({ code, signal, stderr, events: lines });
    });
  });
}

export const of = (events, kind) => events.filter((e) => e.kind === kind);
export const COMPLETIONS = ['rpc.ok', 'rpc.fail', 'rpc.timeout', 'rpc.lost'];

// Every rpc.invoke has exactly one completion after it, and no completion lacks its invoke.
export function assertHistory(events) {
  const open = new Map();
  for (const e of events) {
    const key = `${e.source}#${e.id}`;
    if (e.kind === 'rpc.invoke') {
      assert.ok(!open.has(key), `${key} invoked twice`);
      open.set(key, 'open');
    } else if (COMPLETIONS.includes(e.kind)) {
      assert.equal(open.get(key), 'open', `${e.kind} for ${key} without a pending invoke`);
      open.set(key, e.kind);
    }
  }
  for (const [key, state] of open) assert.notEqual(state, 'open', `${key} never completed`);
}

// The completion of the tools/call of `tool` (the first one).
export function outcomeOf(events, tool) {
  const invoke = events.find((e) => e.kind === 'rpc.invoke' && e.tool === tool);
  assert.ok(invoke, `no call of ${tool}`);
  return events.find((e) => COMPLETIONS.includes(e.kind) && e.id === invoke.id && e.source === invoke.source);
}
