// Many /ws clients in one Node process (the load of 1,000 browsers, without their CPU cost in
// Python): each authenticates with an API key (first-message form), subscribes to one vault,
// answers heartbeats, and notes the wall-clock arrival time of every stream message.
//
// Usage: node --experimental-websocket ws_clients.js <url> <clients> <api-key> <vault> <expected> <out.json> [timeout-s]
// Prints READY when every client is subscribed, DONE when every client has <expected> `deposit`
// messages (or the timeout passed); then writes what each client received to <out.json>.
'use strict';

const fs = require('fs');
const { performance } = require('perf_hooks');

const [url, count, apiKey, vault, expected, outPath, timeoutArg] = process.argv.slice(2);
const CLIENTS = Number(count);
const EXPECTED = Number(expected);
const TIMEOUT_MS = Number(timeoutArg || 120) * 1000;
const OPEN_BATCH = Number(process.env.OPEN_BATCH || 50);
const OPEN_ATTEMPTS = 5;

const now = () => performance.timeOrigin + performance.now();
const clients = [];

async function open(index) {
  // A server that cannot take the handshakes fast enough refuses some: try again a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce(index);
    } catch (error) {
      if (attempt >= OPEN_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

function openOnce(index) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}?tvl=0`);
    const client = { index, ws, deposits: [], others: 0, seqs: [], closed: null };
    let failed = false;
    ws.onerror = (event) => {
      if (failed) return; // closing a failed socket reports its error again
      failed = true;
      reject(new Error(`client ${index}: ${event.message || 'error'}`));
      try { ws.close(); } catch (_) { /* already closed */ }
    };
    ws.onclose = (event) => { client.closed = event.code; };
    ws.onmessage = (event) => {
      const at = now();
      const frame = JSON.parse(event.data);
      switch (frame.type) {
        case 'welcome':
          ws.send(JSON.stringify({ action: 'auth', api_key: apiKey, id: 1 }));
          break;
        case 'authenticated':
          ws.send(JSON.stringify({ action: 'subscribe', vault, id: 2 }));
          break;
        case 'subscribed':
          clients.push(client);
          resolve(client);
          break;
        case 'heartbeat':
          ws.send('{"action":"ping"}');
          break;
        case 'error':
          reject(new Error(`client ${index}: ${frame.code} ${frame.message}`));
          break;
        case 'deposit':
          client.deposits.push([frame.signature, at]);
          client.seqs.push(frame.seq);
          break;
        case 'pong':
          break;
        default:
          client.others += 1;
      }
    };
  });
}

async function main() {
  for (let start = 0; start < CLIENTS; start += OPEN_BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(CLIENTS, start + OPEN_BATCH); i++) batch.push(open(i));
    await Promise.all(batch);
  }
  console.log('READY');
  const deadline = Date.now() + TIMEOUT_MS;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const done = clients.every((c) => c.deposits.length >= EXPECTED);
      if (done || Date.now() > deadline) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  // Late doubles would show up within a moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const result = clients.map((c) => ({
    index: c.index, deposits: c.deposits, seqs: c.seqs, others: c.others, closed: c.closed,
  }));
  fs.writeFileSync(outPath, JSON.stringify(result));
  for (const c of clients) c.ws.close();
  console.log('DONE');
  setTimeout(() => process.exit(0), 200);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
