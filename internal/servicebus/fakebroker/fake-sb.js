#!/usr/bin/env node
// A fake Azure Service Bus broker for the servicebus adapter's tests. It
// speaks AMQP 1.0 (npm rhea) the way azservicebus v1.11 / go-amqp v1.7
// expect a namespace to, for what the adapter uses:
//
//   - SASL ANONYMOUS (the client's UseDevelopmentEmulator=true mode) and a
//     $cbs node that accepts any put-token (status-code must be an int32);
//   - session queues (one per --queue) with a <queue>/$DeadLetterQueue
//     subqueue; messages without a session id are rejected;
//   - session receivers: com.microsoft:session-filter on the source (null =
//     next available session, else that session); the attach reply carries
//     the session id in the same filter and com.microsoft:locked-until-utc
//     (.NET ticks) in its properties; an accept with no session available
//     waits up to com.microsoft:timeout ms and is then refused with
//     com.microsoft:timeout; a held session is refused with
//     com.microsoft:session-cannot-be-locked;
//   - one holder per session until its link detaches (or its AMQP session or
//     connection ends) or its lock expires; on expiry the link is detached
//     with com.microsoft:session-lock-lost and the unsettled messages come
//     back counted, on a detach uncounted (as Service Bus does);
//   - peek-lock deliveries: 16-byte random delivery tags are the lock tokens
//     (the client byte-swaps them into .NET GUID order, so the management
//     node swaps back), x-opt-sequence-number / x-opt-enqueued-time /
//     x-opt-locked-until annotations, header delivery-count = deliveries - 1;
//   - dispositions: accepted = complete; modified = abandon (counts as a
//     delivery, as Service Bus does); released = the SDK's prefetch
//     releaser giving back a message it never handed out (Service Bus does
//     not count a release); rejected with com.microsoft:dead-letter =
//     dead-letter with the reason and description from the error info. The
//     broker settles after the client (receiver settle mode second); a
//     disposition for a lock that is gone is rejected with
//     com.microsoft:message-lock-lost, on $management answered 410;
//   - MaxDeliveryCount: a message whose delivery count reaches it and is
//     abandoned or whose lock expires is dead-lettered with reason
//     MaxDeliveryCountExceeded;
//   - duplicate detection by message-id within --duplicate-window;
//   - $management: com.microsoft:renew-session-lock, peek-message,
//     update-disposition, renew-lock.
//
// Not implemented: topics, scheduled messages, deferral, session state,
// TTL, transactions, partitions.
//
// Usage: node fake-sb.js [--host 127.0.0.1] [--port 0] [--lock-duration 30s]
//   [--max-delivery-count 10] [--duplicate-window 10m] [--accept-timeout 60s]
//   [--queue workspacequeue --queue deploymentstatus] [--verbose]
// Durations take ms, s, m or h (a bare number is milliseconds). The max
// delivery count can also come from FAKE_SB_MAX_DELIVERY_COUNT. Port 0 picks
// a free port. The first line on stdout is "listening 127.0.0.1:PORT"; with
// --verbose, what happens goes to stderr. SIGTERM or SIGINT stops it. State
// lives in memory: a new process starts empty.
'use strict';

const crypto = require('crypto');
const rhea = require('rhea');

const Connection = require('rhea/lib/connection.js');
const Session = require('rhea/lib/session.js');

const types = rhea.types;
const message = rhea.message;

// go-amqp can send a frame for a session or link that is already gone: when
// a context ends while it closes one, it may send a second end. rhea takes
// that as a protocol error and drops the whole connection, with every other
// link on it; Service Bus ignores it, and so does this broker.
for (const name of ['end', 'detach', 'flow', 'disposition']) {
  const orig = Connection.prototype['on_' + name];
  Connection.prototype['on_' + name] = function (frame) {
    if (!this.remote_channel_map[frame.channel]) {
      log(`ignored ${name} on unknown channel ${frame.channel}`);
      return;
    }
    orig.call(this, frame);
  };
}
for (const name of ['detach', 'flow']) {
  const orig = Session.prototype['on_' + name];
  Session.prototype['on_' + name] = function (frame) {
    const handle = frame.performative.handle;
    if (handle !== undefined && handle !== null && !this.remote.handles[handle]) {
      log(`ignored ${name} on unknown handle ${handle}`);
      return;
    }
    orig.call(this, frame);
  };
}

// ---- configuration --------------------------------------------------------

function parseDuration(s, flag) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(s));
  if (!m) {
    fail(`${flag}: invalid duration ${JSON.stringify(s)} (want e.g. 800ms, 30s, 10m)`);
  }
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 'ms'];
  return Math.round(Number(m[1]) * unit);
}

function fail(msg) {
  process.stderr.write(`fake-sb: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const cfg = {
    host: '127.0.0.1',
    port: 0,
    lockDuration: 30000,
    maxDeliveryCount: Number(process.env.FAKE_SB_MAX_DELIVERY_COUNT || 10),
    duplicateWindow: 600000,
    acceptTimeout: 60000, // Service Bus's own wait when the client sends no timeout
    queues: [],
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--host': cfg.host = value(); break;
      case '--port': cfg.port = Number(value()); break;
      case '--lock-duration': cfg.lockDuration = parseDuration(value(), flag); break;
      case '--max-delivery-count': cfg.maxDeliveryCount = Number(value()); break;
      case '--duplicate-window': cfg.duplicateWindow = parseDuration(value(), flag); break;
      case '--accept-timeout': cfg.acceptTimeout = parseDuration(value(), flag); break;
      case '--queue': cfg.queues.push(value()); break;
      case '--verbose': cfg.verbose = true; break;
      default: fail(`unknown flag ${flag}`);
    }
  }
  if (!Number.isInteger(cfg.port) || cfg.port < 0) fail('--port must be a non-negative integer');
  if (!Number.isInteger(cfg.maxDeliveryCount) || cfg.maxDeliveryCount < 1) fail('--max-delivery-count must be >= 1');
  if (cfg.queues.length === 0) cfg.queues = ['workspacequeue', 'deploymentstatus'];
  return cfg;
}

const cfg = parseArgs(process.argv.slice(2));

function log(...args) {
  if (cfg.verbose) process.stderr.write(`fake-sb ${new Date().toISOString()} ${args.join(' ')}\n`);
}

// ---- AMQP value helpers ---------------------------------------------------

const SESSION_FILTER = 'com.microsoft:session-filter';
const SESSION_FILTER_CODE = 0x137000000c;
const EPOCH_TICKS = 621355968000000000n;

// ticks encodes a time as .NET ticks in an AMQP long; JS numbers cannot hold
// them exactly, so go through BigInt and a buffer.
function ticks(ms) {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt(ms) * 10000n + EPOCH_TICKS);
  return types.wrap_long(buf);
}

// plain strips rhea's typed wrappers down to a JS value.
function plain(v) {
  while (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && 'value' in v && v.constructor && v.constructor.name === 'Typed') {
    v = v.value;
  }
  return v === undefined ? null : v;
}

// The client sends lock tokens as UUIDs in .NET GUID byte order: the first
// three groups of the delivery tag are byte-swapped.
function swapGuid(b) {
  const t = Buffer.from(b);
  [t[0], t[3]] = [t[3], t[0]];
  [t[1], t[2]] = [t[2], t[1]];
  [t[4], t[5]] = [t[5], t[4]];
  [t[6], t[7]] = [t[7], t[6]];
  return t;
}

function amqpError(condition, description, info) {
  const e = { condition, description };
  if (info) e.info = info;
  return e;
}

// ---- queues ---------------------------------------------------------------

class Entity {
  constructor(name) {
    this.name = name;
    this.seq = 0;
    this.active = []; // messages, in sequence order
    this.dlq = []; // dead-lettered messages, in sequence order
    this.seen = new Map(); // message id -> time first seen
    this.sessions = new Map(); // session id -> {link, lockedUntil, timer}
    this.waiters = []; // links waiting for the next available session
  }
}

const entities = new Map(cfg.queues.map((q) => [q, new Entity(q)]));

// resolve maps a link address to {entity, dlq, management}.
function resolve(address) {
  if (typeof address !== 'string') return null;
  let rest = address;
  let management = false;
  if (rest.endsWith('/$management')) {
    management = true;
    rest = rest.slice(0, -'/$management'.length);
  }
  let dlq = false;
  if (rest.endsWith('/$DeadLetterQueue')) {
    dlq = true;
    rest = rest.slice(0, -'/$DeadLetterQueue'.length);
  }
  const entity = entities.get(rest);
  return entity ? { entity, dlq, management } : null;
}

function insertBySeq(list, m) {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > m.seq) i--;
  list.splice(i, 0, m);
}

function remove(list, m) {
  const i = list.indexOf(m);
  if (i >= 0) list.splice(i, 1);
}

function enqueue(entity, msg) {
  const now = Date.now();
  for (const [id, at] of entity.seen) {
    if (at > now - cfg.duplicateWindow) break; // insertion order is time order
    entity.seen.delete(id);
  }
  const id = plain(msg.message_id);
  if (id !== null && entity.seen.has(String(id))) {
    log('duplicate dropped', entity.name, id);
    return;
  }
  if (id !== null) entity.seen.set(String(id), now);
  const m = {
    seq: ++entity.seq,
    sessionId: String(plain(msg.group_id)),
    enqueuedAt: now,
    deliveries: 0,
    msg,
    lock: null,
    entity,
  };
  entity.active.push(m);
  log('enqueued', entity.name, m.sessionId, id, m.seq);
  const held = entity.sessions.get(m.sessionId);
  if (held) pump(held.link);
  else serveWaiters(entity);
}

function deadLetter(m, reason, description) {
  const entity = m.entity;
  remove(entity.active, m);
  unlock(m);
  const props = Object.assign({}, m.msg.application_properties || {});
  props.DeadLetterReason = String(reason);
  props.DeadLetterErrorDescription = String(description);
  m.msg.application_properties = props;
  m.dead = { at: Date.now() };
  insertBySeq(entity.dlq, m);
  log('dead-lettered', entity.name, m.seq, reason);
}

function unlock(m) {
  if (!m.lock) return;
  if (m.lock.timer) clearTimeout(m.lock.timer);
  if (m.lock.link && m.lock.link.fsb) m.lock.link.fsb.deliveries.delete(m.lock.token);
  m.lock = null;
}

// giveBack returns a message whose delivery ended without settlement. counted
// says whether that delivery counts towards MaxDeliveryCount.
function giveBack(m, counted) {
  unlock(m);
  if (!counted) m.deliveries--;
  if (!m.dead && m.deliveries >= cfg.maxDeliveryCount) {
    deadLetter(m, 'MaxDeliveryCountExceeded',
      `Message could not be consumed after ${cfg.maxDeliveryCount} delivery attempts.`);
  }
}

// ---- delivery ---------------------------------------------------------------

// credit left on a sending link: rhea counts credit down only when a transfer
// is written, so count what was queued here instead.
function credit(link) {
  return link.credit + link.delivery_count - link.fsb.sent;
}

function nextFor(link) {
  const st = link.fsb;
  const list = st.dlq ? st.entity.dlq : st.entity.active;
  for (const m of list) {
    if (m.lock) continue;
    if (!st.dlq && m.sessionId !== st.sessionId) continue;
    return m;
  }
  return null;
}

function pump(link) {
  const st = link && link.fsb;
  if (!st || st.closed || st.pending || !link.is_open()) return;
  while (credit(link) > 0) {
    const m = nextFor(link);
    if (!m) return;
    deliver(link, m);
  }
}

function lockedUntilOf(link, m) {
  const st = link.fsb;
  if (st.sessionId !== undefined) return st.entity.sessions.get(st.sessionId).lockedUntil;
  return m.lock.lockedUntil;
}

function deliver(link, m) {
  const st = link.fsb;
  const tag = crypto.randomBytes(16);
  const token = swapGuid(tag).toString('hex');
  m.deliveries++;
  m.lock = { token, link, lockedUntil: Date.now() + cfg.lockDuration, timer: null };
  if (st.sessionId === undefined) {
    // Outside sessions each message has its own lock.
    m.lock.timer = setTimeout(() => expireMessageLock(m, token), cfg.lockDuration);
  }
  st.deliveries.set(token, m);
  st.sent++;
  const out = encodeForDelivery(m, lockedUntilOf(link, m));
  const d = link.send(out, tag);
  d.fsb = { m, token };
  log('delivered', st.entity.name, st.dlq ? 'dlq' : st.sessionId, m.seq, 'count', m.deliveries);
}

function encodeForDelivery(m, lockedUntil) {
  const out = Object.assign({}, m.msg);
  out.delivery_count = Math.max(m.deliveries - 1, 0);
  const ann = Object.assign({}, m.msg.message_annotations || {});
  ann['x-opt-sequence-number'] = types.wrap_long(m.seq);
  ann['x-opt-enqueued-time'] = types.wrap_timestamp(m.enqueuedAt);
  if (lockedUntil !== undefined) ann['x-opt-locked-until'] = types.wrap_timestamp(lockedUntil);
  if (m.dead) ann['x-opt-deadletter-source'] = m.entity.name;
  out.message_annotations = ann;
  return out;
}

function expireMessageLock(m, token) {
  if (!m.lock || m.lock.token !== token) return;
  if (Date.now() < m.lock.lockedUntil) {
    m.lock.timer = setTimeout(() => expireMessageLock(m, token), m.lock.lockedUntil - Date.now());
    return;
  }
  const link = m.lock.link;
  log('message lock expired', m.entity.name, m.seq);
  giveBack(m, true);
  if (link) pump(link);
}

// ---- sessions ---------------------------------------------------------------

function availableSession(entity) {
  for (const m of entity.active) {
    if (!m.lock && !entity.sessions.has(m.sessionId)) return m.sessionId;
  }
  return null;
}

function serveWaiters(entity) {
  while (entity.waiters.length > 0) {
    const id = availableSession(entity);
    if (id === null) return;
    const link = entity.waiters.shift();
    clearTimeout(link.fsb.waitTimer);
    grantSession(link, id);
  }
}

function lockSession(entity, id, link) {
  const s = { link, lockedUntil: Date.now() + cfg.lockDuration, timer: null };
  entity.sessions.set(id, s);
  armSessionTimer(entity, id, s);
  return s;
}

function armSessionTimer(entity, id, s) {
  if (s.timer) clearTimeout(s.timer);
  s.timer = setTimeout(() => expireSession(entity, id, s), Math.max(s.lockedUntil - Date.now(), 0));
}

function expireSession(entity, id, s) {
  if (entity.sessions.get(id) !== s) return;
  // setTimeout may fire a millisecond early; the lock must not end before
  // the time the client was told.
  if (Date.now() < s.lockedUntil) {
    armSessionTimer(entity, id, s);
    return;
  }
  log('session lock expired', entity.name, id);
  const link = s.link;
  releaseLink(link, true);
  if (link.is_open()) {
    link.close(amqpError('com.microsoft:session-lock-lost',
      `The session lock has expired on the MessageSession ${id}. Accept a new MessageSession.`));
  }
}

function grantSession(link, id) {
  const st = link.fsb;
  const s = lockSession(st.entity, id, link);
  st.sessionId = id;
  st.pending = false;
  const remote = link.remote.attach;
  const filter = {};
  filter[SESSION_FILTER] = types.wrap_described(id, SESSION_FILTER_CODE);
  link.set_source({ address: remote.source.address, filter });
  link.local.attach.properties = { 'com.microsoft:locked-until-utc': ticks(s.lockedUntil) };
  link.open();
  log('session accepted', st.entity.name, id, 'by', link.name);
  pump(link);
}

function refuse(link, condition, description) {
  if (link.fsb) {
    link.fsb.pending = false;
    link.fsb.closed = true;
  }
  link.local.attach.source = null;
  link.local.attach.target = null;
  link.open();
  link.close(amqpError(condition, description));
  log('refused', link.name, condition);
}

// deferAttach keeps rhea from answering a remote attach right away: it opens
// the local end before it tells us about the link, so undo that; link.open()
// answers later.
function deferAttach(link) {
  link.state.local_open = false;
  link.state.open_requests = 0;
}

// releaseLink ends everything a link holds: its session lock, the locks of
// its unsettled deliveries, a pending accept. expired says the session lock
// ran out: then the deliveries count (and may dead-letter). A detach gives
// them back uncounted: Service Bus raises the delivery count of a session's
// unsettled messages only when the session lock expires, not when the
// receiver closes or goes away.
function releaseLink(link, expired) {
  const st = link.fsb;
  if (!st || st.closed) return;
  st.closed = true;
  const entity = st.entity;
  if (st.pending) {
    clearTimeout(st.waitTimer);
    remove(entity.waiters, link);
  }
  for (const m of Array.from(st.deliveries.values())) {
    giveBack(m, expired);
  }
  if (st.sessionId !== undefined) {
    const s = entity.sessions.get(st.sessionId);
    if (s && s.link === link) {
      clearTimeout(s.timer);
      entity.sessions.delete(st.sessionId);
      log('session released', entity.name, st.sessionId, expired ? '(expired)' : '');
    }
  }
  for (const other of allLinks) {
    if (other.fsb && other.fsb.entity === entity && other.fsb.dlq) pump(other);
  }
  serveWaiters(entity);
}

// ---- links ------------------------------------------------------------------

const allLinks = new Set();

function mirrorModes(link) {
  const remote = link.remote.attach;
  link.local.attach.snd_settle_mode = remote.snd_settle_mode;
  link.local.attach.rcv_settle_mode = remote.rcv_settle_mode;
}

// The client opened a receiver: we send on it.
function onSenderOpen(context) {
  const link = context.sender;
  const remote = link.remote.attach;
  mirrorModes(link);
  const address = remote.source && remote.source.address;
  if (remote.target && remote.target.address !== undefined) link.set_target({ address: remote.target.address });
  const conn = context.connection;

  if (address === '$cbs' || (resolve(address) && resolve(address).management)) {
    // The reply half of a request/response pair: replies are routed here by
    // the requests' reply-to.
    link.set_source({ address });
    conn.fsbReplies = conn.fsbReplies || new Map();
    conn.fsbReplies.set(remote.target && remote.target.address, link);
    return;
  }

  const r = resolve(address);
  if (!r || r.management) {
    deferAttach(link);
    refuse(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
    return;
  }
  link.fsb = { entity: r.entity, dlq: r.dlq, sent: 0, deliveries: new Map(), closed: false, pending: false };
  allLinks.add(link);
  conn.fsbLinks = conn.fsbLinks || new Set();
  conn.fsbLinks.add(link);

  if (r.dlq) {
    link.set_source({ address });
    return; // pumped on flow
  }

  const filters = (remote.source && remote.source.filter) || {};
  if (!(SESSION_FILTER in filters)) {
    deferAttach(link);
    refuse(link, 'amqp:not-allowed',
      `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. Entity: ${address}`);
    return;
  }
  const wanted = plain(filters[SESSION_FILTER]);
  deferAttach(link);
  link.fsb.pending = true;
  if (wanted !== null) {
    if (r.entity.sessions.has(String(wanted))) {
      refuse(link, 'com.microsoft:session-cannot-be-locked',
        `The requested session '${wanted}' cannot be accepted. It may be locked by another receiver.`);
      return;
    }
    grantSession(link, String(wanted));
    return;
  }
  const id = availableSession(r.entity);
  if (id !== null) {
    grantSession(link, id);
    return;
  }
  const props = remote.properties || {};
  const t = plain(props['com.microsoft:timeout']);
  const wait = t === null ? cfg.acceptTimeout : Number(t);
  r.entity.waiters.push(link);
  link.fsb.waitTimer = setTimeout(() => {
    remove(r.entity.waiters, link);
    refuse(link, 'com.microsoft:timeout', 'The operation did not complete within the allotted timeout.');
  }, wait);
  log('waiting for a session', r.entity.name, link.name, wait, 'ms');
}

// The client opened a sender: we receive on it.
function onReceiverOpen(context) {
  const link = context.receiver;
  const remote = link.remote.attach;
  mirrorModes(link);
  const address = remote.target && remote.target.address;
  const r = resolve(address);
  if (address !== '$cbs' && !(r && (r.management || !r.dlq))) {
    link.local.attach.target = null;
    link.close(amqpError('amqp:not-found', `The messaging entity '${address}' could not be found.`));
    return;
  }
  link.set_target({ address });
  link.add_credit(1000);
}

function onMessage(context) {
  const link = context.receiver;
  const address = link.remote.attach.target.address;
  if (link.credit < 500) link.add_credit(1000);
  if (address === '$cbs') {
    reply(context, 202, 'Accepted');
    context.delivery.accept();
    return;
  }
  const r = resolve(address);
  if (r.management) {
    management(context, r);
    context.delivery.accept();
    return;
  }
  const msg = context.message;
  if (plain(msg.group_id) === null) {
    context.delivery.reject(amqpError('amqp:not-allowed',
      `The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set. Entity: ${r.entity.name}`));
    return;
  }
  enqueue(r.entity, msg);
  context.delivery.accept();
}

function reply(context, code, description, body, condition) {
  const req = context.message;
  const replies = context.connection.fsbReplies;
  const link = replies && replies.get(req.reply_to);
  if (!link) {
    log('no reply link for', req.reply_to);
    return;
  }
  const props = { 'status-code': types.wrap_int(code), 'status-description': description };
  if (condition) props['error-condition'] = types.wrap_symbol(condition);
  const out = { correlation_id: req.message_id, application_properties: props };
  if (body !== undefined) out.body = body;
  link.send(out);
}

// ---- dispositions -----------------------------------------------------------

function settleOK(delivery) {
  delivery.update(true);
}

function settleLost(delivery) {
  delivery.update(true, message.rejected({
    error: amqpError('com.microsoft:message-lock-lost',
      'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.'),
  }).described());
}

// owned finds the message a disposition is about, if the link still holds
// its lock.
function owned(context) {
  const d = context.delivery;
  const link = context.sender;
  if (!d.fsb || !link.fsb) return null;
  const m = d.fsb.m;
  if (!m.lock || m.lock.token !== d.fsb.token || m.lock.link !== link) return null;
  return m;
}

function complete(m) {
  const list = m.dead ? m.entity.dlq : m.entity.active;
  unlock(m);
  remove(list, m);
  log('completed', m.entity.name, m.seq);
}

function abandon(m) {
  const link = m.lock.link;
  if (m.dead) unlock(m);
  else giveBack(m, true);
  pump(link);
}

function onAccepted(context) {
  const m = owned(context);
  if (!m) return settleLost(context.delivery);
  complete(m);
  settleOK(context.delivery);
}

function onReleased(context) {
  const m = owned(context);
  if (!m) return settleLost(context.delivery);
  const link = m.lock.link;
  if (m.dead) {
    unlock(m);
    m.deliveries--;
  } else {
    giveBack(m, false);
  }
  settleOK(context.delivery);
  pump(link);
}

function onModified(context) {
  const m = owned(context);
  if (!m) return settleLost(context.delivery);
  abandon(m);
  settleOK(context.delivery);
}

function onRejected(context) {
  const m = owned(context);
  if (!m) return settleLost(context.delivery);
  const state = context.delivery.remote_state || {};
  const err = state.error || {};
  if (m.dead) {
    // A dead letter cannot be dead-lettered again; Service Bus refuses.
    context.delivery.update(true, message.rejected({
      error: amqpError('amqp:not-allowed', 'Cannot dead-letter a message from a dead-letter queue.'),
    }).described());
    return;
  }
  const info = (err.info && typeof err.info === 'object') ? err.info : {};
  const reason = plain(info.DeadLetterReason);
  const description = plain(info.DeadLetterErrorDescription);
  deadLetter(m, reason === null ? '' : reason, description === null ? '' : description);
  // Settled without an error: the client takes an error here as a failure.
  settleOK(context.delivery);
}

// ---- $management --------------------------------------------------------------

function findByToken(entity, tokenHex) {
  for (const link of allLinks) {
    const st = link.fsb;
    if (!st || st.closed || st.entity !== entity) continue;
    const m = st.deliveries.get(tokenHex);
    if (m) return m;
  }
  return null;
}

function tokenHex(v) {
  const b = plain(v);
  return Buffer.isBuffer(b) ? b.toString('hex') : String(b);
}

function listOf(v) {
  const p = plain(v);
  if (p === null) return [];
  return Array.isArray(p) ? p : [p];
}

function management(context, r) {
  const req = context.message;
  const op = plain((req.application_properties || {}).operation);
  const body = (req.body && typeof req.body === 'object') ? req.body : {};
  const arg = (k) => plain(body[k]);
  const lost = () => reply(context, 410, 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
    undefined, 'com.microsoft:message-lock-lost');
  switch (op) {
    case 'com.microsoft:renew-session-lock': {
      const id = String(arg('session-id'));
      const s = r.entity.sessions.get(id);
      const linkName = plain((req.application_properties || {})['associated-link-name']);
      if (!s || s.link.connection !== context.connection || (linkName !== null && s.link.name !== linkName) || Date.now() >= s.lockedUntil) {
        reply(context, 410, `The session lock has expired on the MessageSession ${id}. Accept a new MessageSession.`,
          undefined, 'com.microsoft:session-lock-lost');
        return;
      }
      s.lockedUntil = Date.now() + cfg.lockDuration;
      armSessionTimer(r.entity, id, s);
      log('session lock renewed', r.entity.name, id);
      reply(context, 200, 'OK', { expiration: types.wrap_timestamp(s.lockedUntil) });
      return;
    }
    case 'com.microsoft:peek-message': {
      const from = Number(arg('from-sequence-number') || 0);
      const count = Number(arg('message-count') || 1);
      const list = r.dlq ? r.entity.dlq : r.entity.active;
      const out = [];
      for (const m of list) {
        if (m.seq < from) continue;
        if (out.length >= count) break;
        out.push({ message: message.encode(encodeForDelivery(m, undefined)) });
      }
      if (out.length === 0) {
        reply(context, 204, 'No Content');
        return;
      }
      reply(context, 200, 'OK', { messages: out });
      return;
    }
    case 'com.microsoft:update-disposition': {
      const status = String(arg('disposition-status'));
      for (const t of listOf(body['lock-tokens'])) {
        const m = findByToken(r.entity, tokenHex(t));
        if (!m) return lost();
        if (status === 'completed') complete(m);
        else if (status === 'abandoned') abandon(m);
        else if (status === 'suspended' && !m.dead) {
          const reason = arg('deadletter-reason');
          const description = arg('deadletter-description');
          deadLetter(m, reason === null ? '' : reason, description === null ? '' : description);
        } else {
          reply(context, 400, `disposition ${status} is not supported by this broker`);
          return;
        }
      }
      reply(context, 200, 'OK', {});
      return;
    }
    case 'com.microsoft:renew-lock': {
      const expirations = [];
      for (const t of listOf(body['lock-tokens'])) {
        const m = findByToken(r.entity, tokenHex(t));
        if (!m) return lost();
        const st = m.lock.link.fsb;
        if (st.sessionId !== undefined) {
          expirations.push(r.entity.sessions.get(st.sessionId).lockedUntil);
        } else {
          m.lock.lockedUntil = Date.now() + cfg.lockDuration;
          expirations.push(m.lock.lockedUntil);
        }
      }
      reply(context, 200, 'OK', {
        expirations: types.wrap_array(expirations, types.Timestamp.typecode),
      });
      return;
    }
    default:
      reply(context, 501, `operation ${op} is not implemented by this broker`);
  }
}

// ---- wiring -------------------------------------------------------------------

function closeLinks(links) {
  for (const link of Array.from(links)) {
    releaseLink(link, false);
    allLinks.delete(link);
  }
}

const container = rhea.create_container({ id: 'fake-sb' });

container.on('sender_open', onSenderOpen);
container.on('receiver_open', onReceiverOpen);
container.on('sendable', (context) => pump(context.sender));
container.on('message', onMessage);
container.on('accepted', onAccepted);
container.on('released', onReleased);
container.on('modified', onModified);
container.on('rejected', onRejected);
container.on('sender_close', (context) => {
  const replies = context.connection.fsbReplies;
  const target = context.sender.remote.attach && context.sender.remote.attach.target;
  if (replies && target && replies.get(target.address) === context.sender) replies.delete(target.address);
  closeLinks([context.sender]);
});
container.on('sender_error', () => {});
container.on('receiver_error', () => {});
container.on('session_close', (context) => {
  const links = context.connection.fsbLinks || new Set();
  closeLinks(Array.from(links).filter((l) => l.session === context.session));
});
container.on('session_error', () => {});
const dropConnection = (context) => closeLinks(context.connection.fsbLinks || []);
container.on('connection_close', dropConnection);
container.on('disconnected', dropConnection);
container.on('connection_error', () => {});
container.on('error', (err) => log('error', err && err.message));

const server = container.listen({
  host: cfg.host,
  port: cfg.port,
  // Frames are small and come in request/response pairs: with Nagle's
  // algorithm each round trip waits out the peer's delayed ACK (~40 ms).
  noDelay: true,
  // Credit and acceptance are ours to manage: an automatic flow between a
  // refused attach and its detach breaks go-amqp.
  credit_window: 0,
  autoaccept: false,
  treat_modified_as_released: false,
});
server.on('listening', () => {
  const a = server.address();
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
});
server.on('error', (err) => fail(`listen: ${err.message}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
