// `ledgermq txn list --group G`: pending half messages (unresolved transactions) on every broker group's leader.
import type { PendingTransaction } from '../../broker/processors/txn-list.js';
import type { CommandModule } from 'yargs';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { TXN_LIST_CODE } from '../../dledger/limits.js';

interface Args {
  namesrv: string;
  group?: string;
  json: boolean;
}


export const txnCommand: CommandModule<object, Args> = {
  command: 'txn <action>',
  describe: 'Transactions: list pending half messages (action: list)',
  builder: (y) =>
    y
      .positional('action', { choices: ['list'] as const })
      .option('namesrv', { type: 'string', default: '127.0.0.1:9876' })
      .option('group', { type: 'string', describe: 'Producer group (default: all)' })
      .option('json', { type: 'boolean', default: false }) as never,
  handler: async (args) => {
    const client = new RemotingClient();
    try {
      const r = await client.invoke(args.namesrv, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
      if (r.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(r.body)) throw new Error(`cluster info from ${args.namesrv} failed: ${r.remark}`);
      const info = JSON.parse(r.body.toString('utf8')) as { brokerAddrTable: Record<string, { brokerAddrs: Record<string, string> }> };
      const all: Record<string, PendingTransaction[]> = {};
      for (const [name, data] of Object.entries(info.brokerAddrTable ?? {})) {
        const leader = data.brokerAddrs['0'];
        if (!leader) {
          console.error(`${name}: no leader right now`);
          continue;
        }
        const resp = await client.invoke(leader, createRequest(TXN_LIST_CODE, args.group ? { producerGroup: args.group } : null), 10_000);
        if (resp.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(resp.body)) throw new Error(`${name}: ${resp.remark}`);
        all[name] = (JSON.parse(resp.body.toString('utf8')) as { pending: PendingTransaction[] }).pending;
      }
      if (args.json) {
        console.log(JSON.stringify(all, null, 2));
        return;
      }
      for (const [name, pending] of Object.entries(all)) {
        console.log(`${name}: ${pending.length} pending transaction(s)${args.group ? ` of ${args.group}` : ''}`);
        for (const p of pending) {
          console.log(`  half#${p.halfOffset} msgId=${p.msgId} topic=${p.topic} group=${p.producerGroup} age=${(p.ageMs / 1000).toFixed(1)}s checks=${p.checks}${p.nextCheckAt ? ` next-check-in=${Math.max(0, (p.nextCheckAt - Date.now()) / 1000).toFixed(1)}s` : ''}`);
        }
      }
    } finally {
      await client.close();
    }
  },
};
