// Transactional messages against `npm start` (name server 127.0.0.1:9876): node examples/transactional-producer.mjs
import { PushConsumer, TransactionProducer } from '../dist/client/index.js';

const namesrv = process.env.NAMESRV ?? '127.0.0.1:9876';
const orders = new Map(); // stands in for your database: order id -> 'paid' | 'cancelled'

const producer = new TransactionProducer({
  namesrv,
  group: 'PG_orders',
  // The broker asks about transactions it has no outcome for (UNKNOWN, a lost END_TRANSACTION, a crashed producer).
  checker: (msg) => {
    const state = orders.get(msg.keys);
    return state === 'paid' ? 'COMMIT' : state === 'cancelled' ? 'ROLLBACK' : 'UNKNOWN';
  },
});
await producer.start();

for (const [orderId, outcome] of [['order-1', 'COMMIT'], ['order-2', 'ROLLBACK'], ['order-3', 'UNKNOWN']]) {
  const { sendResult, localState, ended } = await producer.sendMessageInTransaction(
    { topic: 'OrderPaid', body: JSON.stringify({ orderId }), keys: orderId },
    () => {
      // The local transaction: runs after the half message is stored, before anyone can consume it.
      if (outcome === 'COMMIT') orders.set(orderId, 'paid');
      if (outcome === 'ROLLBACK') orders.set(orderId, 'cancelled');
      if (outcome === 'UNKNOWN') setTimeout(() => orders.set(orderId, 'paid'), 1000); // decided later
      return outcome;
    },
  );
  console.log(`${orderId}: local ${localState}, ended ${ended}, msgId ${sendResult.msgId}`);
}

const consumer = new PushConsumer({ namesrv, group: 'CG_orders', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
consumer.subscribe('OrderPaid', '*');
consumer.onMessage((msgs) => {
  for (const m of msgs) console.log(`consumed ${m.keys} ${m.body.toString()}`);
  return 'CONSUME_SUCCESS';
});
await consumer.start();
// order-1 at once; order-3 after the broker's first back-check (transaction timeout: 6 s); order-2 never.
await new Promise((r) => setTimeout(r, 12_000));
await consumer.shutdown();
await producer.shutdown();
