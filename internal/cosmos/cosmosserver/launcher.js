#!/usr/bin/env node
// Launcher for @vercel/cosmosdb-server 1.0.1, the in-memory Cosmos-protocol
// server that the tests of internal/cosmos run the Go SDK (azcosmos) against.
//
// It fixes three bugs of the package that break azcosmos, by replacing the
// `default` export of handler modules before lib/routes.js loads (routes.js
// reads `<handler>.default` once, when it builds its table):
//   1. GET of a missing document (or with the wrong partition key) throws a
//      TypeError, answered as 500; Cosmos answers 404.
//   2. Transactional batch: the Go SDK sends the partition key only in the
//      request header, the package expects it on each operation (500); the
//      package does not roll back a failed batch and answers 200 where Cosmos
//      answers 207; Patch operations are refused.
//   3. Partition key ranges have a numeric `id` (and `_ts` in seconds) that
//      the Go SDK cannot decode into its string/time fields.
// and makes the query engine stricter where it is more lenient than Cosmos,
// so that a query that would fail in Azure fails here too:
//   4. `=` and `!=` between values of different types are undefined in
//      Cosmos (the row is filtered out, also under NOT); the package says
//      false/true. (Its IN is still lenient: `undefined IN (...)` is false
//      here, undefined in Cosmos.)
// It also listens with keep-alive (the package's CLI closes the connection
// after every response, so each request costs a new TLS handshake).
//
// Usage: node launcher.js [--port N] [--host 127.0.0.1] [--http] [--exit-with-stdin]
//   --port 0 (the default) picks a free port. The first line on stdout is
//   "listening <host>:<port>" once the server accepts connections.
//   --http serves plain HTTP instead of HTTPS with the package's bundled
//   self-signed (and expired) certificate: clients must skip verification.
//   --exit-with-stdin exits when stdin closes, so that a parent that dies
//   without stopping the server (a killed test binary) does not leave it
//   running.
"use strict";

const path = require("path");

// Resolved through NODE_PATH when node_modules lives outside this directory
// (the Go tests install it in a cache directory).
const pkg = path.dirname(require.resolve("@vercel/cosmosdb-server/package.json"));
const lib = path.join(pkg, "lib");
const load = name => require(path.join(lib, name));

const getPartitionFromHeader = load("utils/get-partition-from-header");
const documentOps = load("handler/_document-operations");
const patchOps = load("handler/_patch-operations");
const readBody = load("json").default;

// 1. Missing document → 404 instead of the TypeError of the original handler.
const readDocument = load("handler/read-document");
const originalReadDocument = readDocument.default;
readDocument.default = (account, req, res, params) => {
  const collection = account.database(params.dbId).collection(params.collId);
  if (collection.read()) {
    let pk;
    try {
      pk = getPartitionFromHeader.parsePartitionKey(getPartitionFromHeader.default(req), params.docId);
    } catch (err) {
      res.statusCode = 400;
      return { code: "BadRequest", message: err.message };
    }
    if (!collection.document(params.docId, pk).read()) {
      res.statusCode = 404;
      return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
    }
  }
  return originalReadDocument(account, req, res, params);
};

// 2. Transactional batch, atomic as in Cosmos: the header's partition key
// applies to every operation, a failure restores the collection as it was
// and answers 207 with the failing operation's status and 424 for the rest.
const batchDocuments = load("handler/batch-documents");
batchDocuments.default = async (account, req, res, { dbId, collId }) => {
  const body = await readBody(req);
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return { code: "NotFound", message: "Collection not found." };
  }
  if (!Array.isArray(body)) {
    res.statusCode = 400;
    return { code: "BadRequest", message: "Invalid request body" };
  }
  const partitionKey = getPartitionFromHeader.default(req);
  // Stored items are replaced, never mutated, so copies of the maps are a
  // complete snapshot.
  const docs = collection.documents;
  const snapshot = { data: new Map(docs._data), index: new Map(docs._index), ridCount: docs._ridCount };

  const restore = () => {
    docs._data = snapshot.data;
    docs._index = snapshot.index;
    docs._ridCount = snapshot.ridCount;
  };

  const results = [];
  let failedAt = -1;
  try {
    for (let i = 0; i < body.length && failedAt < 0; i += 1) {
      const result = batchOperation(collection, { partitionKey, ...body[i] });
      if (result.statusCode >= 400) {
        failedAt = i;
      }
      results.push({
        statusCode: result.statusCode,
        requestCharge: 1,
        eTag: result.body ? result.body._etag : undefined,
        resourceBody: result.statusCode < 400 ? result.body : undefined
      });
    }
  } catch (err) {
    restore(); // then a 500, as for any handler that throws
    throw err;
  }
  if (failedAt < 0) {
    return results;
  }
  restore();
  res.statusCode = 207;
  return body.map((_, i) =>
    i === failedAt ? { statusCode: results[i].statusCode, requestCharge: 1 } : { statusCode: 424, requestCharge: 0 }
  );
};

function batchOperation(collection, op) {
  switch (op.operationType) {
    case "Create":
      return documentOps.createOperation(collection, op);
    case "Upsert":
      return documentOps.upsertOperation(collection, op);
    case "Read":
      return documentOps.readOperation(collection, op);
    case "Delete":
      return documentOps.deleteOperation(collection, op);
    case "Replace":
      return documentOps.replaceOperation(collection, op);
    case "Patch": {
      // The Go SDK sends {condition?, operations} as the resource body.
      const patch = op.resourceBody || {};
      return patchOps.patchOperation(collection, { ...op, operations: patch.operations || [], condition: patch.condition });
    }
    default:
      return { statusCode: 400, body: { message: `Operation type '${op.operationType}' is not supported in Batch.` } };
  }
}

// 3. Partition key ranges with a string id and without the _ts the SDK
// would parse as a time.
const readPartitionKeyRanges = load("handler/read-partition-key-ranges");
const originalReadPartitionKeyRanges = readPartitionKeyRanges.default;
readPartitionKeyRanges.default = async (...args) => {
  const body = await originalReadPartitionKeyRanges(...args);
  if (body && Array.isArray(body.PartitionKeyRanges)) {
    body.PartitionKeyRanges = body.PartitionKeyRanges.map(({ _ts, ...range }) => ({ ...range, id: String(range.id) }));
  }
  return body;
};

// 4. Typed equality as in Cosmos. Compiled queries call the helpers through
// the module object, so replacing its export is enough.
const helpers = require(require.resolve("@zeit/cosmosdb-query/lib/helpers", { paths: [pkg] }));
const originalEqual = helpers.equal;
const typeOf = v => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
helpers.equal = (a, b) => (typeOf(a) === typeOf(b) ? originalEqual(a, b) : undefined);

// Only now load the server, and with it routes.js.
const { createHttpServer, createHttpsServer } = load("index");

function parseArgs(argv) {
  const args = { host: "127.0.0.1", port: 0, http: false, exitWithStdin: false };
  for (let i = 0; i < argv.length; i += 1) {
    switch (argv[i]) {
      case "--port":
        args.port = Number.parseInt(argv[(i += 1)], 10);
        break;
      case "--host":
        args.host = argv[(i += 1)];
        break;
      case "--http":
        args.http = true;
        break;
      case "--exit-with-stdin":
        args.exitWithStdin = true;
        break;
      default:
        console.error(`unknown argument ${argv[i]}\nusage: node launcher.js [--port N] [--host H] [--http] [--exit-with-stdin]`);
        process.exit(2);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    console.error("--port must be 0 to 65535");
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const create = args.http ? createHttpServer : createHttpsServer;
const server = create({ keepAlive: true });
server.on("error", err => {
  console.error(err.message);
  process.exit(1);
});
server.listen(args.port, args.host, () => {
  const { port } = server.address();
  process.stdout.write(`listening ${args.host}:${port}\n`);
});
if (args.exitWithStdin) {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(0));
}
