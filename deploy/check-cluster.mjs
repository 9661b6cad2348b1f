// End-to-end check of a cluster behind its load balancer (docs/DEPLOY.md, "Check it").
//
//   SENDER_TOKEN=… RECEIVER_TOKEN=… node check-cluster.mjs LB_URL ORDER_ID [NODE_URL…]
//
// Connects two Socket.IO clients through the load balancer (LB_URL), both joining the
// order's room; the receiver waits for the `new-message` the sender sends. With the
// nodes' own URLs after the order id, it reads each node's `orderchat_connections`
// gauge to see which node took each client, and reconnects the receiver until the two
// sit on different nodes, so the message has to cross Redis. TRANSPORT=polling makes both clients use HTTP
// long-polling only (needs the sticky variant of the balancer); the default is
// WebSocket only. RECEIVER_URL connects the receiver there instead of through the
// balancer (a sticky balancer sends every client of one address to one node, so this
// is how one machine puts the two clients on different nodes).
// Needs socket.io-client 4 (npm install socket.io-client@4).
import { io } from 'socket.io-client';

const [lb, orderId, ...nodes] = process.argv.slice(2);
const { SENDER_TOKEN, RECEIVER_TOKEN, TRANSPORT = 'websocket', RECEIVER_URL = lb } = process.env;
if (!lb || !orderId || !SENDER_TOKEN || !RECEIVER_TOKEN) {
  console.error('usage: SENDER_TOKEN=… RECEIVER_TOKEN=… node check-cluster.mjs LB_URL ORDER_ID [NODE_URL…]');
  process.exit(2);
}
const fail = (why) => { console.error(`FAILED: ${why}`); process.exit(1); };
setTimeout(() => fail('no answer within 20 s'), 20_000).unref();

const connect = (token, url = lb) => new Promise((resolve, reject) => {
  const socket = io(url, { auth: { token }, transports: [TRANSPORT], reconnection: false, forceNew: true });
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

/** Connects, and with node URLs, says which node took the connection (the one whose
 *  count went up; run it on a quiet cluster). */
async function connectOnNode(token, url) {
  const before = nodes.length ? await connectionsPerNode() : [];
  const socket = await connect(token, url);
  if (!nodes.length) return { socket, node: null };
  const after = await connectionsPerNode();
  const index = after.findIndex((n, i) => n > before[i]);
  return { socket, node: index < 0 ? null : nodes[index] };
}

const { socket: sender, node: senderNode } = await connectOnNode(SENDER_TOKEN, lb);
await join(sender);
let { socket: receiver, node: receiverNode } = await connectOnNode(RECEIVER_TOKEN, RECEIVER_URL);
if (nodes.length > 1) {
  // Round robin alternates, but other requests share the rotation: try a few times.
  for (let attempt = 1; !(senderNode && receiverNode && senderNode !== receiverNode); attempt++) {
    if (attempt === 6) fail(`the clients did not land on two different nodes (sender: ${senderNode}, receiver: ${receiverNode}); a sticky balancer? see RECEIVER_URL`);
    receiver.disconnect();
    ({ socket: receiver, node: receiverNode } = await connectOnNode(RECEIVER_TOKEN, RECEIVER_URL));
  }
  console.log(`sender on ${senderNode}, receiver on ${receiverNode}`);
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
