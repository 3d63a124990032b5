// End to end over Streamable HTTP and the legacy HTTP+SSE transport: the
// official MCP SDK client talks to server-everything directly and through
// `faultline proxy --protocol http`, with and without faults, and checks what
// the client sees against what each fault promised, and what faultline recorded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { McpError, ErrorCode, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startEverything, startFaultline, recordingFetch, messages, sleep, timed } from './http-peers.mjs';

const servers = {};
async function server(transport) {
  servers[transport] ??= await startEverything(transport);
  return servers[transport];
}
after(async () => {
  for (const s of Object.values(servers)) await s.stop();
});

// An SDK client over `transport` ('streamableHttp' or 'sse') to `port`, recording what crossed.
async function connect(transport, port) {
  const log = [];
  const fetch = recordingFetch(log);
  const t = transport === 'sse'
    ? new SSEClientTransport(new URL(`http://127.0.0.1:${port}/sse`), { fetch })
    : new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { fetch });
  const client = new Client({ name: 'faultline-http-e2e', version: '1.0.0' });
  const s = { client, transport: t, log, errors: [], listChanged: 0 };
  client.onerror = (e) => s.errors.push(e);
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { s.listChanged++; });
  await client.connect(t);
  s.close = async () => { await client.close().catch(() => {}); };
  return s;
}


const echo = (client, message, timeout = 5000) =>
  client.callTool({ name: 'echo', arguments: { message } }, undefined, { timeout });

// The same work on a session, returning what the client got.
async function work(s) {
  const tools = await s.client.listTools();
  const e = await echo(s.client, 'hello');
  const sum = await s.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  const prompts = await s.client.listPrompts();
  await sleep(300);
  return { tools, e, sum, prompts, server: s.client.getServerVersion() };
}

// faultline with `faults` in front of a fresh server-everything; the test body gets both.
async function through(transport, faults, body) {
  const upstream = await server(transport);
  const proxy = await startFaultline(upstream.port, { faults });
  try {
    await body(proxy);
  } finally {
    await proxy.stop();
  }
  return proxy.events();
}

for (const transport of ['streamableHttp', 'sse']) {
  test(`${transport}: without faults a session through faultline is the same as a direct one, message for message`, async () => {
    const upstream = await server(transport);
    const direct = await connect(transport, upstream.port);
    const directResult = await work(direct);
    await direct.close();
    let proxied;
    let proxiedResult;
    const events = await through(transport, [], async (proxy) => {
      proxied = await connect(transport, proxy.port);
      proxiedResult = await work(proxied);
      proxied.errorsBeforeClose = proxied.errors.length;  // closing aborts the GET stream, an error of its own
      await proxied.close();
      await sleep(200);
    });
    assert.deepEqual(proxiedResult, directResult);
    assert.ok(proxiedResult.tools.tools.length > 5);
    assert.deepEqual(messages(proxied.log), messages(direct.log), 'the same JSON-RPC messages, byte for byte');
    assert.ok(messages(proxied.log).length >= 10);
    assert.equal(proxied.errorsBeforeClose, 0, String(proxied.errors));

    const init = events.find((e) => e.kind === 'session.initialize');
    assert.equal(init.clientInfo.name, 'faultline-http-e2e');
    assert.ok(init.protocolVersion);
    assert.ok(events.find((e) => e.kind === 'session.new').session);
    assert.ok(events.find((e) => e.kind === 'tools.listed').count > 5);
    const call = events.find((e) => e.kind === 'rpc.response' && e.method === 'tools/call');
    assert.ok(call.latency_ms >= 0 && call.session);
    const requests = events.filter((e) => e.kind === 'http.request');
    assert.ok(requests.some((e) => e.method === 'POST') && requests.some((e) => e.method === 'GET'));
    assert.equal(events.filter((e) => e.kind === 'rpc.orphan_response').length, 0);
    assert.ok(events.some((e) => e.kind === 'session.connect'));
  });
}

test('drop,method=notifications/tools/list_changed: the client never hears that the tool list changed', async () => {
  const upstream = await server('sse');
  const direct = await connect('sse', upstream.port);
  await sleep(800);
  await direct.close();
  assert.ok(direct.listChanged >= 1, 'server-everything announces its conditional tools');
  let s;
  const events = await through('sse', ['drop,method=notifications/tools/list_changed'], async (proxy) => {
    s = await connect('sse', proxy.port);
    await sleep(800);
    assert.ok((await s.client.listTools()).tools.length > 5, 'the session goes on');
    await s.close();
    await sleep(100);
  });
  assert.equal(s.listChanged, 0);
  const injected = events.filter((e) => e.kind === 'fault.inject');
  assert.ok(injected.length >= 1);
  assert.ok(injected.every((e) => e.method === 'notifications/tools/list_changed'));
});

test('error: a POSTed tools/call is answered with the injected JSON-RPC error', async () => {
  const events = await through('streamableHttp', ['error,method=tools/call,code=-32042,message=injected by faultline'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'x'));
    assert.equal(r.ok, false);
    assert.ok(r.error instanceof McpError);
    assert.equal(r.error.code, -32042);
    assert.match(r.error.message, /injected by faultline/);
    await s.close();
    await sleep(100);
  });
  const resp = events.find((e) => e.kind === 'rpc.response' && e.method === 'tools/call');
  assert.equal(resp.injected, true);
});

test('forget_session: requests of the forgotten session get 404; a new session works', async () => {
  const events = await through('streamableHttp', ['forget_session,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'x'));
    assert.equal(r.ok, false);
    assert.ok(r.error instanceof StreamableHTTPError, String(r.error));
    assert.equal(r.error.code, 404);
    const again = await timed(s.client.listTools());
    assert.equal(again.ok, false, 'the session stays forgotten');
    await s.close();
    const fresh = await connect('streamableHttp', proxy.port);  // what a good client does: initialize again
    assert.ok(await echo(fresh.client, 'after'));
    await fresh.close();
    await sleep(100);
  });
  const lost = events.filter((e) => e.kind === 'session.lost');
  assert.ok(lost.length >= 2 && lost.every((e) => e.status === 404 && e.injected));
  assert.equal(new Set(lost.map((e) => e.session)).size, 1);
});

test('unknown_session: requests of the session get 400 instead of 404', async () => {
  await through('streamableHttp', ['unknown_session,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'x'));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 400);
    assert.match(String(r.error.message), /No valid session ID/);
    await s.close();
  });
});

test('get_405: no standalone SSE stream; the client carries on with POST responses', async () => {
  const events = await through('streamableHttp', ['get_405'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    await sleep(300);
    assert.ok(await echo(s.client, 'still works'));
    assert.equal(s.errors.length, 0, String(s.errors));
    await s.close();
    await sleep(100);
  });
  const gets = events.filter((e) => e.kind === 'http.request' && e.method === 'GET');
  assert.ok(gets.length >= 1 && gets.every((e) => e.status === 405 && e.injected));
  assert.equal(events.filter((e) => e.kind === 'sse.open' && e.method === 'GET').length, 0);
});

test('close_sse: the POST stream is cut before the result; the client resumes with Last-Event-ID and gets it', async () => {
  const events = await through('streamableHttp', ['close_sse,kind=response,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'resumed', 8000));
    assert.equal(r.ok, true, String(r.error));
    assert.equal(r.value.content[0].text, 'Echo: resumed');
    await s.close();
    await sleep(100);
  });
  assert.ok(events.some((e) => e.kind === 'sse.close' && e.how === 'fault_close'));
  const reconnect = events.find((e) => e.kind === 'session.reconnect');
  assert.ok(reconnect && reconnect.last_event_id, 'the resumption is recorded with its Last-Event-ID');
});

test('close_sse with strip_event_ids: no id to resume from, the call is lost (docs/outages.md #7)', async () => {
  await through('streamableHttp', ['strip_event_ids', 'close_sse,kind=response,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'lost', 1500));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    await s.close();
  });
});

test('rewrite_retry: the client waits the retry: the link wrote before it resumes a cut stream', async () => {
  const events = await through('streamableHttp',
    ['rewrite_retry,retry=1200,add=1', 'close_sse,how=end,kind=response,method=tools/call'], async (proxy) => {
      const s = await connect('streamableHttp', proxy.port);
      const r = await timed(echo(s.client, 'slow resume', 8000));
      assert.equal(r.ok, true, String(r.error));
      assert.ok(r.ms >= 1100, `${r.ms} ms`);
      await s.close();
      await sleep(100);
    });
  const cut = events.find((e) => e.kind === 'sse.close' && e.how === 'fault_end');
  const resume = events.find((e) => e.kind === 'session.reconnect');
  assert.ok(cut && resume);
  assert.ok(resume.t - cut.t >= 1.1, `resumed ${resume.t - cut.t} s after the cut`);
});

// ---------------------------------------------------------------- frame faults on http
// Replies travel in the POST's response (JSON or an SSE stream of its own) or,
// on the legacy transport, on the one GET stream: a fault that holds or
// reorders messages acts within one of those.

test('delay: a delayed reply arrives after the delay, intact; other calls are not held', async () => {
  const events = await through('streamableHttp', ['delay,kind=response,method=tools/call,delay=700'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const fast = await timed(s.client.listTools());
    assert.ok(fast.ok && fast.ms < 500, `tools/list took ${fast.ms} ms`);
    const r = await timed(echo(s.client, 'late'));
    assert.equal(r.ok, true, String(r.error));
    assert.equal(r.value.content[0].text, 'Echo: late');
    assert.ok(r.ms >= 680, `took ${r.ms} ms`);
    assert.ok(r.ms < 3000, `took ${r.ms} ms`);
    assert.equal(s.errors.length, 0, String(s.errors));
    await s.close();
    await sleep(100);
  });
  const injected = events.filter((e) => e.kind === 'fault.inject' && e.type === 'delay');
  assert.equal(injected.length, 1);
  assert.equal(injected[0].method, 'tools/call');
});

test('duplicate: the reply arrives twice; the SDK takes the first and reports the second as unknown', async () => {
  await through('streamableHttp', ['duplicate,kind=response,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'twice'));
    assert.equal(r.ok, true, String(r.error));
    assert.equal(r.value.content[0].text, 'Echo: twice');
    await sleep(200);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
    const copies = messages(s.log).filter((m) => m.startsWith('<') && m.includes('Echo: twice'));
    assert.equal(copies.length, 2, copies.join('\n'));
    assert.equal(copies[0], copies[1]);
    await s.close();
  });
});

test('reorder on a POST stream: progress 1 comes after 2, and 3 after the result, too late for the caller', async () => {
  const events = await through('streamableHttp', ['reorder,method=notifications/progress,after=1'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const seen = [];
    const r = await timed(s.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.4, steps: 3 } },
      undefined, { timeout: 5000, onprogress: (p) => seen.push(p.progress) }));
    assert.equal(r.ok, true, String(r.error));
    assert.match(r.value.content[0].text, /completed/);
    assert.deepEqual(seen, [2, 1]);  // 3 was held behind the result: the SDK had stopped listening
    await sleep(100);
    assert.ok(s.errors.some((e) => /progress notification for an unknown token/i.test(String(e))), String(s.errors));
    const order = messages(s.log).filter((m) => m.startsWith('<')).map((m) => JSON.parse(m.slice(2)))
      .filter((m) => m.method === 'notifications/progress' || m.result?.content)
      .map((m) => (m.method ? m.params.progress : 'result'));
    assert.deepEqual(order, [2, 1, 'result', 3], 'as the client received them');
    await s.close();
    await sleep(100);
  });
  assert.equal(events.filter((e) => e.kind === 'fault.inject' && e.type === 'reorder').length, 2);  // 1 and 3 held
});

test('reorder on the legacy GET stream: two replies swapped still reach the right callers', async () => {
  await through('sse', ['reorder,kind=response,method=tools/call,after=1'], async (proxy) => {
    const s = await connect('sse', proxy.port);
    try {
      const [a, b] = await Promise.all([echo(s.client, 'first'), echo(s.client, 'second')]);
      assert.equal(a.content[0].text, 'Echo: first');
      assert.equal(b.content[0].text, 'Echo: second');
      const received = messages(s.log).filter((m) => m.startsWith('<'));
      const order = received.filter((m) => m.includes('Echo: ')).map((m) => JSON.parse(m.slice(2)).id);
      assert.equal(order.length, 2);
      if (!(order[0] > order[1])) {
        // The held reply is let go after the next message on the stream, whatever it
        // is: a server notification that came between the two replies released it first.
        const first = received.findIndex((m) => m.includes('Echo: '));
        assert.ok(first > 0 && !received[first - 1].includes('Echo: '), `reply ids in the order ${order}`);
      }
    } finally {
      await s.close();
    }
  });
});

test('late_response: the client times out; the reply comes later as an unknown id, and the session goes on', async () => {
  const events = await through('streamableHttp', ['late_response,method=tools/call,delay=1500'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'too late', 500));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.ok((await s.client.listTools()).tools.length > 5, 'later calls pass');
    assert.ok(!s.errors.some((e) => /unknown message ID/i.test(String(e))), 'not yet');
    await sleep(1500);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
    assert.ok(messages(s.log).some((m) => m.startsWith('<') && m.includes('Echo: too late')), 'the late reply reached the client');
    await s.close();
    await sleep(100);
  });
  const injected = events.filter((e) => e.kind === 'fault.inject' && e.type === 'late_response');
  assert.equal(injected.length, 1);
  assert.equal(injected[0].method, 'tools/call');
});

test('malformed invalid_json: the client reports the broken reply and the call times out', async () => {
  await through('streamableHttp', ['malformed,kind=response,method=tools/call,mode=invalid_json'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'broken', 800));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.ok(s.errors.some((e) => e instanceof SyntaxError), String(s.errors));  // the SSE data did not parse
    assert.ok((await s.client.listTools()).tools.length > 5, 'the session goes on');
    await s.close();
  });
});

test('malformed unknown_id: the reply carries an id the client never sent; the call times out', async () => {
  const events = await through('streamableHttp', ['malformed,kind=response,method=tools/call,mode=unknown_id'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'who', 800));
    assert.equal(r.ok, false);
    assert.equal(r.error.code, ErrorCode.RequestTimeout);
    assert.ok(s.errors.some((e) => /unknown message ID/i.test(String(e))), String(s.errors));
    await s.close();
    await sleep(100);
  });
  assert.equal(events.filter((e) => e.kind === 'fault.inject' && e.type === 'malformed').length, 1);
});

// ---------------------------------------------------------------- a response matches by its request
// A reply the server replays on a resumed stream carries no method of its
// own: the link answers for it with the method of the request it relayed.

test('drop,method=tools/call: the result is dropped on the POST stream and again when the server replays it; the call times out', async () => {
  let resumed = false;
  const events = await through('streamableHttp', ['drop,stream=downstream,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'dropped', 3000));
    assert.equal(r.ok, false, 'the call must not succeed');
    assert.equal(r.error.code, ErrorCode.RequestTimeout, String(r.error));
    assert.ok(!messages(s.log).some((m) => m.startsWith('<') && m.includes('Echo: dropped')), 'no result reached the client');
    resumed = s.log.some((e) => e.dir === 'received' && e.method === 'GET' && e.text.includes('Echo: dropped'));
    assert.ok((await s.client.listTools()).tools.length > 5, 'the session goes on');
    await s.close();
    await sleep(100);
  });
  assert.equal(resumed, false, 'the replayed result did not reach the client either');
  const reconnect = events.find((e) => e.kind === 'session.reconnect' && e.last_event_id);
  assert.ok(reconnect, 'the SDK resumed the broken POST stream with Last-Event-ID');
  const drops = events.filter((e) => e.kind === 'fault.inject' && e.type === 'drop');
  assert.ok(drops.length >= 2, `dropped on the POST stream and on the resumed stream: ${JSON.stringify(drops)}`);
  assert.ok(drops.every((e) => e.method === 'tools/call'));
  assert.equal(new Set(drops.map((e) => JSON.stringify(e.id))).size, 1, 'the same call each time');
});

// ---------------------------------------------------------------- SSE streams, open to close

for (const transport of ['streamableHttp', 'sse']) {
  test(`${transport}: every sse.open of a clean session gets exactly one sse.close, naming its stream and why it ended`, async () => {
    const events = await through(transport, [], async (proxy) => {
      const s = await connect(transport, proxy.port);
      await work(s);
      await s.close();  // the client closes its GET stream
      await sleep(300);
    });
    const opens = events.filter((e) => e.kind === 'sse.open');
    const closes = events.filter((e) => e.kind === 'sse.close');
    assert.ok(opens.length >= (transport === 'sse' ? 1 : 3), `${opens.length} streams`);
    assert.equal(closes.length, opens.length, `${opens.length} opened, ${closes.length} closed`);
    const ids = opens.map((e) => e.stream);
    assert.ok(ids.every((id) => Number.isInteger(id)), 'each sse.open names its stream');
    assert.equal(new Set(ids).size, ids.length, 'stream numbers are unique');
    assert.deepEqual(closes.map((e) => e.stream).sort((a, b) => a - b), [...ids].sort((a, b) => a - b), 'each stream closed once');
    for (const c of closes) {
      assert.ok(typeof c.how === 'string' && c.how.length > 0, JSON.stringify(c));
      const open = opens.find((o) => o.stream === c.stream);
      assert.equal(c.conn, open.conn);
      assert.equal(c.method, open.method);
      assert.ok(c.t >= open.t);
    }
    const get = closes.filter((c) => c.method === 'GET');
    assert.ok(get.length >= 1 && get.some((c) => c.how === 'client_closed'), JSON.stringify(get));
  });
}

test('close_sse: the cut stream and the resumed one are each closed once', async () => {
  const events = await through('streamableHttp', ['close_sse,kind=response,method=tools/call'], async (proxy) => {
    const s = await connect('streamableHttp', proxy.port);
    const r = await timed(echo(s.client, 'resumed', 8000));
    assert.equal(r.ok, true, String(r.error));
    await sleep(200);  // the resumed stream is still open: the link stopping closes it
  });
  const opens = events.filter((e) => e.kind === 'sse.open');
  const closes = events.filter((e) => e.kind === 'sse.close');
  assert.equal(closes.length, opens.length, `${opens.length} opened, ${closes.length} closed`);
  assert.ok(opens.some((e) => e.last_event_id), 'a resumed stream');
  assert.deepEqual(new Set(closes.map((e) => e.stream)), new Set(opens.map((e) => e.stream)));
  assert.ok(closes.some((e) => e.how === 'fault_close'));
  assert.ok(closes.some((e) => e.how === 'link_stopping'), JSON.stringify(closes.map((e) => e.how)));
});

// ---------------------------------------------------------------- legacy SSE: a broken stream switches sessions

// The session id the legacy transport named in the nth GET /sse stream of a log.
function endpointSession(log, nth) {
  const streams = log.filter((e) => e.dir === 'received' && e.method === 'GET' && e.type.startsWith('text/event-stream'));
  const m = streams[nth]?.text.match(/sessionId=([^\s&]+)/);
  return m ? m[1] : undefined;
}

test('sse: the GET stream breaks, the SDK goes on in a new session it never initialized; the link records session.switch', async () => {
  let before;
  let after;
  const events = await through('sse', ['close_sse,kind=response,method=tools/call'], async (proxy) => {
    const s = await connect('sse', proxy.port);
    try {
      before = endpointSession(s.log, 0);
      assert.ok(before);
      const cut = await timed(echo(s.client, 'cut', 1000));
      assert.equal(cut.ok, false, 'the reply was on the cut stream');
      for (let i = 0; i < 200 && !endpointSession(s.log, 1); i++) await sleep(50);  // EventSource reconnects
      after = endpointSession(s.log, 1);
      assert.ok(after && after !== before, 'a new session on the new stream');
      // server-everything (SDK 1.32) answers calls on a session never initialized; a stricter server would not
      await timed(echo(s.client, 'next', 1500));
    } finally {
      await s.close();
    }
    await sleep(100);
  });
  const switches = events.filter((e) => e.kind === 'session.switch');
  assert.equal(switches.length, 1, JSON.stringify(switches));
  assert.equal(switches[0].from, before);
  assert.equal(switches[0].to, after);
  assert.equal(switches[0].initialized, false);
  assert.equal(switches[0].method, 'tools/call');
  assert.equal(events.filter((e) => e.kind === 'session.new').length, 2);
  assert.ok(events.some((e) => e.kind === 'rpc.request' && e.session === after && e.method === 'tools/call'));
  assert.ok(!events.some((e) => e.kind === 'session.initialize' && e.session === after), 'never initialized');
});

test('sse: a client that closes its session and opens another initializes it: no session.switch', async () => {
  const events = await through('sse', [], async (proxy) => {
    const a = await connect('sse', proxy.port);
    assert.ok(await echo(a.client, 'one'));
    await a.close();
    await sleep(100);
    const b = await connect('sse', proxy.port);
    assert.ok(await echo(b.client, 'two'));
    await b.close();
    await sleep(100);
  });
  assert.equal(events.filter((e) => e.kind === 'session.new').length, 2);
  assert.equal(events.filter((e) => e.kind === 'session.switch').length, 0);
});
