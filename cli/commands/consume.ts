// `ledgermq consume`: a push consumer that prints messages; stops after --count messages or --timeout-ms idle.
import type { CommandModule } from 'yargs';
import type { MessageExt } from '../../client/index.js';
import { bodyPreview, quietLogger } from './common.js';

interface Args {
  namesrv: string;
  topic: string;
  group: string;
  expression: string;
  count?: number;
  from: string;
  'timeout-ms'?: number;
  quiet: boolean;
}

export const consumeCommand: CommandModule<object, Args> = {
  command: 'consume',
  describe: 'Consume messages with a consumer group and print them',
  builder: (y) =>
    y
      .option('namesrv', { type: 'string', default: '127.0.0.1:9876' })
      .option('topic', { type: 'string', demandOption: true })
      .option('group', { type: 'string', demandOption: true, describe: 'Consumer group' })
      .option('expression', { type: 'string', default: '*', describe: 'Tag expression, e.g. "TagA || TagB"' })
      .option('count', { type: 'number', describe: 'Exit after this many messages' })
      .option('from', { type: 'string', choices: ['last', 'first'], default: 'last', describe: 'Where a group without a committed offset starts (RocketMQ: a young queue is read from its start either way)' })
      .option('timeout-ms', { type: 'number', describe: 'Exit after this long without a message' })
      .option('quiet', { type: 'boolean', default: false, describe: 'Print only a summary' }) as never,
  handler: async (args) => {
    const { PushConsumer } = await import('../../client/index.js');
    const consumer = new PushConsumer({
      namesrv: args.namesrv,
      group: args.group,
      consumeFromWhere: args.from === 'first' ? 'CONSUME_FROM_FIRST_OFFSET' : 'CONSUME_FROM_LAST_OFFSET',
      logger: quietLogger,
    });
    consumer.subscribe(args.topic, args.expression);
    let received = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    let idle: NodeJS.Timeout | null = null;
    const armIdle = (): void => {
      if (!args['timeout-ms']) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(done, args['timeout-ms']);
    };
    consumer.onMessage((msgs: MessageExt[]) => {
      for (const m of msgs) {
        if (args.count !== undefined && received >= args.count) break;
        received++;
        if (!args.quiet) console.log(`${m.topic} queue=${m.queueId} offset=${m.queueOffset} msgId=${m.msgId}${m.tags ? ` tags=${m.tags}` : ''}${m.keys ? ` keys=${m.keys}` : ''} body=${bodyPreview(m.body)}`);
      }
      armIdle();
      if (args.count !== undefined && received >= args.count) done();
      return 'CONSUME_SUCCESS';
    });
    await consumer.start();
    armIdle();
    process.on('SIGINT', () => done());
    await finished;
    if (idle) clearTimeout(idle);
    await consumer.shutdown();
    if (args.quiet || args.count === undefined) console.log(`consumed ${received} messages`);
  },
};
