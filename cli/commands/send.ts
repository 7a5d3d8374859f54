// `ledgermq send`: one message, or --count N messages of --size bytes with a window of outstanding sends.
import type { CommandModule } from 'yargs';
import { quietLogger } from './common.js';

interface Args {
  namesrv: string;
  topic: string;
  body?: string;
  tag?: string;
  key?: string;
  count: number;
  size: number;
  window: number;
  group: string;
  'delay-level'?: number;
}

export const sendCommand: CommandModule<object, Args> = {
  command: 'send',
  describe: 'Send a message (or --count N of --size bytes)',
  builder: (y) =>
    y
      .option('namesrv', { type: 'string', default: '127.0.0.1:9876' })
      .option('topic', { type: 'string', demandOption: true })
      .option('body', { type: 'string', describe: 'Message body (default: generated)' })
      .option('tag', { type: 'string' })
      .option('key', { type: 'string', describe: 'Message key (KEYS)' })
      .option('count', { type: 'number', default: 1 })
      .option('size', { type: 'number', default: 128, describe: 'Body size in bytes when --body is not given' })
      .option('window', { type: 'number', default: 256, describe: 'Sends in flight at once when --count > 1' })
      .option('group', { type: 'string', default: 'ledgermq-cli-producer' })
      .option('delay-level', { type: 'number', describe: 'Delay level (1..18 by default: 1s 5s 10s 30s 1m ...)' }) as never,
  handler: async (args) => {
    const { Producer } = await import('../../client/index.js');
    const producer = new Producer({ namesrv: args.namesrv, group: args.group, maxOutstandingSends: args.window, logger: quietLogger });
    await producer.start();
    const bodyFor = (i: number): Buffer => (args.body !== undefined ? Buffer.from(args.body) : Buffer.alloc(args.size, 97 + (i % 26)));
    try {
      if (args.count === 1) {
        const r = await producer.send({ topic: args.topic, body: bodyFor(0), tags: args.tag, keys: args.key, delayLevel: args['delay-level'] });
        console.log(`${r.status} msgId=${r.msgId} offsetMsgId=${r.offsetMsgId} queue=${r.queue.brokerName}/${r.queue.queueId} queueOffset=${r.queueOffset}`);
        return;
      }
      const started = performance.now();
      let failed = 0;
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < args.count; i++) {
        const p: Promise<void> = producer
          .send({ topic: args.topic, body: bodyFor(i), tags: args.tag, keys: args.key ? `${args.key}-${i}` : undefined })
          .then(
            () => undefined,
            (err: Error) => {
              failed++;
              if (failed <= 5) console.error(`send ${i} failed: ${err.message}`);
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= args.window) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      const seconds = (performance.now() - started) / 1000;
      const ok = args.count - failed;
      console.log(`sent ${ok} of ${args.count} messages in ${seconds.toFixed(2)} s: ${Math.round(ok / seconds)} msgs/s, ${((ok * (args.body?.length ?? args.size)) / 1048576 / seconds).toFixed(1)} MB/s${failed ? `, ${failed} failed` : ''}`);
      if (failed > 0) process.exitCode = 1;
    } finally {
      await producer.shutdown();
    }
  },
};
