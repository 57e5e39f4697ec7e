#!/usr/bin/env node
// A program for the tests of nodetest. It listens on TCP and writes
// NODETEST_GREETING and a newline to every connection.
//
// Usage: node echo.js [--port 0] [--fail] [--bad-line] [--ignore-term]
//   [--exit-with-stdin] [--exit-on-connect]
//   --fail            exits with status 3 before listening, saying why on stderr
//   --bad-line        prints something else than "listening HOST:PORT" first
//   --ignore-term     does not exit on SIGTERM
//   --exit-with-stdin exits when stdin closes
//   --exit-on-connect exits with status 4 after answering a connection
'use strict';

const net = require('net');

const flags = new Set();
let port = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') {
    port = Number(argv[++i]);
  } else {
    flags.add(argv[i]);
  }
}

if (flags.has('--fail')) {
  process.stderr.write('echo.js: failing as asked\n');
  process.exit(3);
}
if (flags.has('--bad-line')) {
  process.stdout.write('hello there\n');
}
const server = net.createServer((conn) => {
  conn.end(`${process.env.NODETEST_GREETING || ''}\n`, () => {
    if (flags.has('--exit-on-connect')) {
      process.stderr.write('echo.js: exiting after a connection\n');
      process.exit(4);
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening 127.0.0.1:${server.address().port}\n`);
});
if (flags.has('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => {
  if (!flags.has('--ignore-term')) {
    process.exit(0);
  }
});
