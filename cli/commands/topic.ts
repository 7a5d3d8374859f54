// `ledgermq topic create|list|route`.
import type { CommandModule, Argv } from 'yargs';
import type { Admin } from '../../client/index.js';
import { quietLogger } from './common.js';

interface Args {
  namesrv: string;
  topic?: string;
  queues: number;
  order: boolean;
}

async function withAdmin<T>(namesrv: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const { Admin } = await import('../../client/index.js');
  const admin = new Admin({ namesrv, logger: quietLogger });
  await admin.start();
  try {
    return await fn(admin);
  } finally {
    await admin.shutdown();
  }
}

const namesrvOption = (y: Argv): Argv => y.option('namesrv', { type: 'string', default: '127.0.0.1:9876', describe: 'Name server host:port' });

export const topicCommand: CommandModule<object, Args> = {
  command: 'topic <action>',
  describe: 'Create, list and inspect topics (actions: create, list, route)',
  builder: (y) =>
    namesrvOption(y)
      .positional('action', { choices: ['create', 'list', 'route'] as const, describe: 'What to do' })
      .option('topic', { type: 'string', describe: 'Topic name (create, route)' })
      .option('queues', { type: 'number', default: 8, describe: 'Read and write queues per broker group (create)' })
      .option('order', { type: 'boolean', default: false, describe: 'Mark the topic as ordered (create)' }) as never,
  handler: async (args) => {
    const action = (args as unknown as { action: string }).action;
    await withAdmin(args.namesrv, async (admin) => {
      if (action === 'list') {
        for (const t of (await admin.topicList()).sort()) console.log(t);
        return;
      }
      if (!args.topic) throw new Error(`topic ${action} needs --topic`);
      if (action === 'create') {
        await admin.createTopic(args.topic, { queues: args.queues, order: args.order });
        console.log(`topic ${args.topic} created with ${args.queues} queues`);
      } else {
        console.log(JSON.stringify(await admin.route(args.topic), null, 2));
      }
    });
  },
};
