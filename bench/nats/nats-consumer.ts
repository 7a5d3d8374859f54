// Bench consumer process for NATS JetStream on --stream, counting numbered bodies until the orchestrator's
// EXPECT n is met (see ../e2e/consume-count.ts). --mode picks the consumer:
//   ordered        an ordered consumer (ephemeral, no acks, the client re-creates it on a gap)
//   pull-ackall    a durable pull consumer, AckPolicy.All, acking every --ack-every-th message and the last one
//                  (progress kept on the server, like a RocketMQ consumer's committed offsets)
//   pull-explicit  a durable pull consumer acking every message
//   pull-none      a durable pull consumer with AckPolicy.None
// All use consume() with a callback and --batch messages per pull request.
// Prints READY once subscribed, then RESULT {json}.
import { AckPolicy, connect, DeliverPolicy, type JsMsg } from 'nats';
import { flags, intFlag, required, sendLine, sendResult } from '../e2e/child-io.js';
import { ConsumeCounter } from '../e2e/consume-count.js';

const f = flags();
const stream = required(f, 'stream');
const mode = f.get('mode') ?? 'pull-ackall';
const batch = intFlag(f, 'batch', 1000);
const ackEvery = Math.max(1, intFlag(f, 'ack-every', 100));
if (!['ordered', 'pull-ackall', 'pull-explicit', 'pull-none'].includes(mode)) throw new Error(`unknown --mode ${mode}`);

const nc = await connect({ servers: required(f, 'url'), name: 'bench-consumer' });
const counter = new ConsumeCounter({
  system: 'nats',
  mode: `${mode} batch=${batch}${mode === 'pull-ackall' ? ` ackEvery=${ackEvery}` : ''}`,
  bodyBytes: intFlag(f, 'size', 128),
  capacity: intFlag(f, 'capacity', 1_000_000),
  idleMs: intFlag(f, 'idle-ms', 5000),
  timeCapMs: intFlag(f, 'time-cap-ms', 120_000),
});
try {
  const js = nc.jetstream();
  let consumer;
  if (mode === 'ordered') {
    consumer = await js.consumers.get(stream);
  } else {
    const jsm = await nc.jetstreamManager();
    const name = required(f, 'durable');
    const ackPolicy = mode === 'pull-ackall' ? AckPolicy.All : mode === 'pull-explicit' ? AckPolicy.Explicit : AckPolicy.None;
    await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: ackPolicy,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: mode === 'pull-none' ? -1 : Math.max(10_000, 4 * batch),
    });
    consumer = await js.consumers.get(stream, name);
  }
  let n = 0;
  let last: JsMsg | null = null;
  const onMessage =
    mode === 'pull-ackall'
      ? (m: JsMsg): void => {
          counter.add(m.data);
          last = m;
          if (++n % ackEvery === 0) m.ack();
        }
      : mode === 'pull-explicit'
        ? (m: JsMsg): void => {
            counter.add(m.data);
            m.ack();
          }
        : (m: JsMsg): void => counter.add(m.data);
  const messages = await consumer.consume({ max_messages: batch, callback: onMessage });
  sendLine('READY');
  await counter.done;
  if (last !== null) await (last as JsMsg).ackAck().catch(() => false);
  sendResult(counter.result());
  await messages.close();
} finally {
  await nc.drain().catch(() => undefined);
  process.stdin.destroy();
}
