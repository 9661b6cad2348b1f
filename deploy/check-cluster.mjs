// End-to-end check of a cluster behind its load balancer (docs/DEPLOY.md, "Check it").
//
//   SENDER_TOKEN=… RECEIVER_TOKEN=… node check-cluster.mjs LB_URL ORDER_ID [NODE_URL…]
//
// Connects two Socket.IO clients through the load balancer (LB_URL), both joining the
// order's room; the receiver waits for the `new-message` the sender sends. With the
// nodes' own URLs after the order id, it reads each node's `orderchat_connections`
// gauge and reconnects the receiver until the two clients sit on different nodes, so
// the message has to cross Redis. TRANSPORT=polling makes both clients use HTTP
// long-polling only (needs the sticky variant of the balancer); the default is
// WebSocket only. Needs socket.io-client 4 (npm install socket.io-client@4).
import { io } from 'socket.io-client';

const [lb, orderId, ...nodes] = process.argv.slice(2);
const { SENDER_TOKEN, RECEIVER_TOKEN, TRANSPORT = 'websocket' } = process.env;
if (!lb || !orderId || !SENDER_TOKEN || !RECEIVER_TOKEN) {
  console.error('usage: SENDER_TOKEN=… RECEIVER_TOKEN=… node check-cluster.mjs LB_URL ORDER_ID [NODE_URL…]');
  process.exit(2);
}
const fail = (why) => { console.error(`FAILED: ${why}`); process.exit(1); };
setTimeout(() => fail('no answer within 20 s'), 20_000).unref();

const connect = (token) => new Promise((resolve, reject) => {
  const socket = io(lb, { auth: { token }, transports: [TRANSPORT], reconnection: false, forceNew: true });
  socket.once('connect', () => resolve(socket));
  socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
});
const join = (socket) => socket.timeout(5000).emitWithAck('join-order-room', { orderId })
  .then((ack) => { if (!ack.ok) fail(`join-order-room: ${JSON.stringify(ack)}`); return ack; });

/** Each node's count of Socket.IO connections, from its /metrics. */
async function connectionsPerNode() {
  const counts = [];
  for (const node of nodes) {
    const text = await (await fetch(`${node}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('orderchat_connections '));
    counts.push(Number(line?.split(' ')[1] ?? 0));
  }
  return counts;
}

const sender = await connect(SENDER_TOKEN);
await join(sender);
let receiver = await connect(RECEIVER_TOKEN);
if (nodes.length > 1) {
  // Round robin alternates, but other requests share the rotation: try a few times.
  for (let attempt = 0; ; attempt++) {
    const counts = await connectionsPerNode();
    console.log(`connections per node (${nodes.join(', ')}): ${counts.join(', ')}`);
    if (counts.filter((n) => n > 0).length >= 2) break;
    if (attempt === 5) fail('both clients keep landing on one node (sticky balancer? then run it once per client IP)');
    receiver.disconnect();
    receiver = await connect(RECEIVER_TOKEN);
  }
}
const joined = await join(receiver);
console.log(`receiver joined ${orderId} at seq ${joined.lastSeq} over ${receiver.io.engine.transport.name}`);

const text = `cluster check ${new Date().toISOString()}`;
const heard = new Promise((resolve) => receiver.on('new-message', (event) => {
  if (event.message.message === text) resolve(event.message);
}));
const ack = await sender.timeout(5000).emitWithAck('send-message', { orderId, message: text });
if (!ack.ok) fail(`send-message: ${JSON.stringify(ack)}`);
const message = await heard;
console.log(`OK: sent seq ${ack.message.seq} over ${sender.io.engine.transport.name}, received seq ${message.seq} on the other client`);
sender.disconnect();
receiver.disconnect();
