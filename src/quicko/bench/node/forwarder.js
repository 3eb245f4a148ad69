// The bare forwarder of quicko.bench.bare, on Node.js and the `ws` package: a baseline column
// of `quicko bench relay --baseline node` (docs/performance.md). Same semantics, exactly:
//
// 1. It accepts a WebSocket upgrade at any path; a path /pair/<key> gives the connection a
//    pair key (not parsed), any other path gives none.
// 2. On open it sends the fixed Challenge-sized frame (--challenge, hex).
// 3. The connection's first binary message stands for the Hello: unread, answered with the
//    fixed --hello-ack frame.
// 4. The second stands for the Join: unread, answered with the fixed --joined frame; if a
//    connection with the same key is waiting the two are linked, else this one waits.
// 5. Every later binary message is forwarded unchanged to the linked connection (dropped while
//    there is none), one `send` each, except the load's Received frames (type byte
//    --received-type at offset 1), which are for a relay and are dropped.
// 6. Text messages are ignored; a Close is answered (by ws); a disconnection unlinks the
//    partner and frees the key.
//
// Run by the benchmark as `node forwarder.js --port 0 --challenge HEX --hello-ack HEX
// --joined HEX --received-type N` with NODE_PATH pointing at the node_modules holding `ws`.
// Like the relay it writes one JSON line {"event": "listening", "host", "port"} to standard
// error once bound, and exits 0 on SIGTERM or SIGINT.
"use strict";

const { WebSocketServer } = require("ws");

function options(argv) {
  const found = { host: "127.0.0.1", port: "0" };
  for (let i = 0; i + 1 < argv.length; i += 2) {
    if (!argv[i].startsWith("--")) throw new Error(`unexpected argument ${argv[i]}`);
    found[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ["challenge", "hello-ack", "joined", "received-type"]) {
    if (found[name] === undefined) throw new Error(`missing --${name}`);
  }
  return found;
}

const args = options(process.argv.slice(2));
const CHALLENGE = Buffer.from(args.challenge, "hex");
const HELLO_ACK = Buffer.from(args["hello-ack"], "hex");
const JOINED = Buffer.from(args.joined, "hex");
const RECEIVED = Number(args["received-type"]);
const PAIR_PREFIX = "/pair/";
const waiting = new Map();

const server = new WebSocketServer({
  host: args.host,
  port: Number(args.port),
  backlog: 1024,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 1 << 20,
});

server.on("connection", (socket, request) => {
  const path = request.url || "";
  const key = path.startsWith(PAIR_PREFIX) ? path.slice(PAIR_PREFIX.length) : null;
  const link = { socket, key, partner: null, count: 0 };
  socket.send(CHALLENGE, { binary: true });
  socket.on("message", (data, isBinary) => {
    if (!isBinary) return;
    const partner = link.partner;
    if (partner !== null) {
      if (data[1] !== RECEIVED) partner.socket.send(data, { binary: true });
      return;
    }
    link.count += 1;
    if (link.count === 1) {
      socket.send(HELLO_ACK, { binary: true });
    } else if (link.count === 2) {
      if (key !== null) {
        const other = waiting.get(key);
        if (other === undefined) {
          waiting.set(key, link);
        } else {
          waiting.delete(key);
          link.partner = other;
          other.partner = link;
        }
      }
      socket.send(JOINED, { binary: true });
    }
  });
  socket.on("close", () => {
    if (key !== null && waiting.get(key) === link) waiting.delete(key);
    if (link.partner !== null) {
      link.partner.partner = null;
      link.partner = null;
    }
  });
  socket.on("error", () => {});
});

server.on("listening", () => {
  const bound = server.address();
  const event = { event: "listening", host: bound.address, port: bound.port, server: "node" };
  process.stderr.write(JSON.stringify(event) + "\n");
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
