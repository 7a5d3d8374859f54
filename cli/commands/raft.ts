// `ledgermq raft status|transfer-leader|add-peer|remove-peer`: the Raft groups behind the broker groups.
import type { CommandModule } from 'yargs';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '../../remoting/index.js';
import { RAFT_STATUS_CODE, RAFT_TRANSFER_CODE, RAFT_MEMBERSHIP_CODE } from '../../dledger/limits.js';
import type { RaftStatusBody } from '../../broker/processors/raft-status.js';

interface Args {
  namesrv: string;
  group?: string;
  to?: string;
  id?: string;
  address?: string;
  json: boolean;
}

async function brokerAddresses(client: RemotingClient, namesrv: string): Promise<Map<string, string[]>> {
  const r = await client.invoke(namesrv, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
  if (r.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(r.body)) throw new Error(`cluster info from ${namesrv} failed: ${r.remark}`);
  const info = JSON.parse(r.body.toString('utf8')) as { brokerAddrTable: Record<string, { brokerAddrs: Record<string, string> }> };
  const out = new Map<string, string[]>();
  for (const [name, data] of Object.entries(info.brokerAddrTable ?? {})) out.set(name, Object.values(data.brokerAddrs));
  return out;
}

async function statuses(client: RemotingClient, addrs: string[]): Promise<Array<RaftStatusBody | { brokerAddr: string; error: string }>> {
  return Promise.all(
    addrs.map(async (addr) => {
      try {
        const r = await client.invoke(addr, createRequest(RAFT_STATUS_CODE), 3000);
        if (r.code !== ResponseCode.SUCCESS || !Buffer.isBuffer(r.body)) return { brokerAddr: addr, error: r.remark ?? `code ${r.code}` };
        return JSON.parse(r.body.toString('utf8')) as RaftStatusBody;
      } catch (err) {
        return { brokerAddr: addr, error: (err as Error).message };
      }
    }),
  );
}

/** Every node of the group: the registered addresses plus any member a node reports. */
async function groupStatus(client: RemotingClient, namesrv: string, group: string): Promise<RaftStatusBody[]> {
  const groups = await brokerAddresses(client, namesrv);
  const addrs = groups.get(group);
  if (!addrs || addrs.length === 0) throw new Error(`the name server knows no broker group ${group}`);
  return (await statuses(client, addrs)).filter((s): s is RaftStatusBody => !('error' in s));
}

async function adminRequest(client: RemotingClient, addr: string, code: number, ext: Record<string, string>): Promise<string> {
  const r = await client.invoke(addr, createRequest(code, ext), 30_000);
  if (r.code !== ResponseCode.SUCCESS) throw new Error(r.remark ?? `code ${r.code}`);
  return r.remark ?? 'ok';
}

export const raftCommand: CommandModule<object, Args> = {
  command: 'raft <action>',
  describe: 'Raft groups: status, transfer-leader, add-peer, remove-peer',
  builder: (y) =>
    y
      .positional('action', { choices: ['status', 'transfer-leader', 'add-peer', 'remove-peer'] as const })
      .option('namesrv', { type: 'string', default: '127.0.0.1:9876' })
      .option('group', { type: 'string', describe: 'Broker group (transfer-leader, add-peer, remove-peer)' })
      .option('to', { type: 'string', describe: 'Raft id to hand leadership to (transfer-leader)' })
      .option('id', { type: 'string', describe: 'Raft id of the node to add or remove' })
      .option('address', { type: 'string', describe: 'Raft address host:port of the node to add (add-peer)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON (status)' }) as never,
  handler: async (args) => {
    const action = (args as unknown as { action: string }).action;
    const client = new RemotingClient();
    try {
      if (action === 'status') {
        const groups = await brokerAddresses(client, args.namesrv);
        const all: Record<string, unknown[]> = {};
        for (const [name, addrs] of groups) all[name] = await statuses(client, addrs);
        if (args.json) {
          console.log(JSON.stringify(all, null, 2));
          return;
        }
        for (const [name, list] of Object.entries(all)) {
          const nodes = list as Array<RaftStatusBody | { brokerAddr: string; error: string }>;
          const leader = nodes.find((n): n is RaftStatusBody => !('error' in n) && n.role === 'leader');
          console.log(`${name}: leader ${leader ? `${leader.raftId} (${leader.brokerAddr})` : 'none'}, term ${leader?.term ?? '-'}`);
          const live = nodes.filter((n): n is RaftStatusBody => !('error' in n));
          for (const n of live) {
            const lag = leader ? Math.max(0, leader.lastIndex - n.lastIndex) : 0;
            const kind = n.membership.learners.includes(n.raftId) ? 'learner' : n.membership.voters.includes(n.raftId) ? 'voter' : 'removed';
            console.log(`  ${n.raftId.padEnd(4)} ${n.brokerAddr.padEnd(21)} ${n.role.padEnd(12)} ${kind.padEnd(8)} term ${n.term} last ${n.lastIndex} commit ${n.commitIndex} applied ${n.appliedIndex} lag ${lag}`);
          }
          // members nobody could reach (not registered with the name server any more, e.g. killed)
          const view = leader ?? live[0];
          if (view) {
            for (const id of [...view.membership.voters, ...view.membership.learners]) {
              if (live.some((n) => n.raftId === id)) continue;
              console.log(`  ${id.padEnd(4)} ${`raft ${view.raftAddresses[id] ?? '?'}`.padEnd(21)} unreachable`);
            }
          }
          for (const n of nodes) if ('error' in n) console.log(`  ${n.brokerAddr}: unreachable (${n.error})`);
        }
        return;
      }
      if (!args.group) throw new Error(`raft ${action} needs --group`);
      const nodes = await groupStatus(client, args.namesrv, args.group);
      const leader = nodes.find((n) => n.role === 'leader');
      if (!leader) throw new Error(`group ${args.group} has no leader right now`);
      if (action === 'transfer-leader') {
        if (!args.to) throw new Error('transfer-leader needs --to <raft id>');
        console.log(await adminRequest(client, leader.brokerAddr, RAFT_TRANSFER_CODE, { to: args.to }));
      } else if (action === 'add-peer') {
        if (!args.id || !args.address) throw new Error('add-peer needs --id and --address');
        console.log(await adminRequest(client, leader.brokerAddr, RAFT_MEMBERSHIP_CODE, { change: 'add', node: args.id, address: args.address }));
      } else {
        if (!args.id) throw new Error('remove-peer needs --id');
        let target = leader;
        if (args.id === leader.raftId) {
          // The leader cannot remove itself: hand leadership to the most caught-up other voter first.
          const successor = [...leader.followers].filter((f) => leader.membership.voters.includes(f.id)).sort((a, b) => b.match - a.match)[0];
          if (!successor) throw new Error(`${args.id} is the only voter of ${args.group}`);
          console.log(await adminRequest(client, leader.brokerAddr, RAFT_TRANSFER_CODE, { to: successor.id }));
          const deadline = Date.now() + 10_000;
          let next: RaftStatusBody | undefined;
          while (Date.now() < deadline) {
            next = (await groupStatus(client, args.namesrv, args.group)).find((n) => n.role === 'leader' && n.ready && n.raftId !== args.id);
            if (next) break;
            await new Promise((r) => setTimeout(r, 200));
          }
          if (!next) throw new Error(`no new leader of ${args.group} after the transfer`);
          target = next;
        }
        console.log(await adminRequest(client, target.brokerAddr, RAFT_MEMBERSHIP_CODE, { change: 'remove', node: args.id }));
      }
    } finally {
      await client.close();
    }
  },
};
