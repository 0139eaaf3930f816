#!/usr/bin/env node
// Create or parse MAM v0 messages with the official libraries, for tests/host/test_streams_js.py.
// stdin: one JSON request; stdout: one JSON reply.
//   {"lib": "client"|"mamjs", "op": "create", "channel": {seed, mode, side_key, security, start, count,
//    next_count, index}, "messages": [trytes, ...]}
//     -> {"messages": [{payload, root, address, next_root}, ...], "channel": {...state after}}
//   {"lib": ..., "op": "parse", "items": [{payload, root, side_key}, ...]}
//     -> {"results": [{message, next_root} | {error}, ...]}
//   {"lib": ..., "op": "root", "channel": {...}} -> {"root": trytes}
// "client" is @iota/mam 0.7.3 (mam.client.js, Rust compiled to asm.js), "mamjs" is @iota/mam.js (pure JS).
'use strict';

const pad = (key) => (key ? key.padEnd(81, '9') : key);

function clientLib() {
  const Mam = require('@iota/mam');
  return {
    create(ch, messages) {
      let state = Mam.init({ provider: 'http://127.0.0.1:1' }, ch.seed, ch.security);
      if (ch.mode && ch.mode !== 'public') state = Mam.changeMode(state, ch.mode, ch.side_key || null);
      Object.assign(state.channel, { start: ch.start || 0, count: ch.count || 1,
        next_count: ch.next_count || 1, index: ch.index || 0 });
      const out = messages.map((m) => {
        const r = Mam.create(state, m);
        state = r.state;
        return { payload: r.payload, root: r.root, address: r.address, next_root: state.channel.next_root };
      });
      return { messages: out, channel: state.channel };
    },
    parse(item) {
      const r = Mam.decode(item.payload, pad(item.side_key) || null, item.root);
      return { message: r.payload, next_root: r.next_root };
    },
    root(ch) {
      const state = Mam.init({ provider: 'http://127.0.0.1:1' }, ch.seed, ch.security);
      Object.assign(state.channel, { start: ch.start || 0, count: ch.count || 1 });
      return Mam.getRoot(state);
    },
  };
}

function mamjsLib() {
  const M = require('@iota/mam.js');
  return {
    create(ch, messages) {
      const c = M.createChannel(ch.seed, ch.security, ch.mode || 'public', ch.side_key || undefined);
      Object.assign(c, { start: ch.start || 0, count: ch.count || 1, nextCount: ch.next_count || 1,
        index: ch.index || 0 });
      const out = messages.map((m) => {
        const r = M.createMessage(c, m);
        return { payload: r.payload, root: r.root, address: r.address, next_root: c.nextRoot };
      });
      return { messages: out, channel: c };
    },
    parse(item) {
      const r = M.parseMessage(item.payload, item.root, pad(item.side_key) || undefined);
      return { message: r.message, next_root: r.nextRoot };
    },
    root(ch) {
      const c = M.createChannel(ch.seed, ch.security, 'public');
      Object.assign(c, { start: ch.start || 0, count: ch.count || 1 });
      return M.channelRoot(c);
    },
  };
}

function main(input) {
  const req = JSON.parse(input);
  const lib = req.lib === 'client' ? clientLib() : req.lib === 'mamjs' ? mamjsLib() : null;
  if (!lib) throw new Error('lib: expected "client" or "mamjs"');
  if (req.op === 'create') return lib.create(req.channel, req.messages);
  if (req.op === 'root') return { root: lib.root(req.channel) };
  if (req.op === 'parse') {
    return {
      results: req.items.map((item) => {
        try {
          return lib.parse(item);
        } catch (e) {
          return { error: String(e && e.message ? e.message : e) };
        }
      }),
    };
  }
  throw new Error('op: expected create, parse or root');
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(main(input)) + '\n');
});
