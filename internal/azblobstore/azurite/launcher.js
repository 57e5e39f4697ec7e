// Starts Azurite's blob service (the Azure Storage protocol server of
// the npm package azurite) for the airlock: in the tests of
// internal/azblobstore and internal/airlock, and under `make run`.
// Prints "listening HOST:PORT" as its first line on stdout, then nothing.
//
//   node launcher.js [--host 127.0.0.1] [--port 0] [--location DIR] [--exit-with-stdin]
//
// Without --location the blobs are kept in memory. Telemetry is off (by
// default Azurite sends some to Application Insights). The well-known
// development account devstoreaccount1 and its key are the only account.
"use strict";

const opts = { host: "127.0.0.1", port: "0", location: "", exitWithStdin: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  switch (argv[i]) {
    case "--host": opts.host = argv[++i]; break;
    case "--port": opts.port = argv[++i]; break;
    case "--location": opts.location = argv[++i]; break;
    case "--exit-with-stdin": opts.exitWithStdin = true; break;
    default:
      console.error(`launcher: unknown argument ${argv[i]}`);
      process.exit(2);
  }
}

// Azurite reads its options from process.argv.
process.argv = [process.argv[0], "azurite-blob", "--blobHost", opts.host, "--blobPort", opts.port,
  "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"];
if (opts.location) {
  process.argv.push("--location", opts.location);
} else {
  process.argv.push("--inMemoryPersistence");
}

const { BlobServerFactory } = require("azurite/dist/src/blob/BlobServerFactory");

async function main() {
  const server = await new BlobServerFactory().createServer();
  await server.start();
  const url = new URL(server.getHttpServerAddress());
  process.stdout.write(`listening ${url.host}\n`);
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGINT", stop).once("SIGTERM", stop);
  if (opts.exitWithStdin) {
    process.stdin.on("end", stop).on("close", stop).resume();
  }
}

main().catch((err) => {
  console.error(`launcher: ${err.stack || err.message}`);
  process.exit(1);
});
