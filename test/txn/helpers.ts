// Shared helpers of the transaction tests: clusters stopped when the test ends, deadline-bounded waits, pending
// transactions (TXN_LIST straight from the leader, or `ledgermq txn list`), raw END_TRANSACTION requests, and reading
// a whole topic back with a PullConsumer.
import assert from 'node:assert/strict';
import { PullConsumer, type MessageExt } from '../../client/index.js';
import { TXN_LIST_CODE } from '../../dledger/limits.js';
import { RemotingClient, RequestCode, ResponseCode, createRequest, type RemotingCommand } from '../../remoting/index.js';
import { TestCluster } from '../harness/cluster.js';
import type { PendingTransaction } from '../../broker/processors/txn-list.js';
import { cli } from '../e2e/cli-runner.js';

export { cli, type CliResult } from '../e2e/cli-runner.js';
// Clusters stopped with the test, cleanups, bounded waits and a recording logger: the end-to-end tests' own.
export { cleanupStack, inWindows, recordingLogger, sleep, startCluster, waitUntil } from '../e2e/helpers.js';

/** Broker flags for quick back-checks: first check after 1 s, then every 500 ms, at most `max` checks. */
export function fastTxnArgs(max = 3, timeoutMs = 1000, intervalMs = 500): string[] {
  return ['--txn-timeout-ms', String(timeoutMs), '--txn-check-interval-ms', String(intervalMs), '--txn-check-max', String(max)];
}

/** Client options that follow a failover quickly (route poll and heartbeats). */
export const QUICK_CLIENT = { pollNameServerIntervalMs: 300, heartbeatIntervalMs: 1000 } as const;

export type PendingTxn = PendingTransaction;

/** Pending half messages on the registered master (TXN_LIST), optionally of one producer group. */
export async function pendingTxns(cluster: TestCluster, group?: string): Promise<PendingTxn[]> {
  const master = await cluster.registeredMaster();
  assert(master, 'no master registered');
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  try {
    const r = await client.invoke(master, createRequest(TXN_LIST_CODE, group ? { producerGroup: group } : null), 5000);
    assert.equal(r.code, ResponseCode.SUCCESS, `TXN_LIST failed: ${r.remark}`);
    return (JSON.parse((r.body as Buffer).toString('utf8')) as { pending: PendingTxn[] }).pending;
  } finally {
    await client.close();
  }
}

/** One raw request to `address`, answered or failed within 5 s. */
export async function rawRequest(address: string, code: number, fields: Record<string, string> | null): Promise<RemotingCommand> {
  const client = new RemotingClient({ logger: { warn: () => undefined } });
  try {
    return await client.invoke(address, createRequest(code, fields), 5000);
  } finally {
    await client.close();
  }
}

/** END_TRANSACTION sent as an ordinary request (not oneway), so the broker's answer can be seen. */
export function endTransactionRequest(address: string, fields: Record<string, string>): Promise<RemotingCommand> {
  return rawRequest(address, RequestCode.END_TRANSACTION, fields);
}

/** `ledgermq txn list --json [--group G]`: pending transactions per broker group. */
export async function cliTxnList(namesrv: string, group?: string): Promise<Record<string, PendingTxn[]>> {
  const r = await cli(['txn', 'list', '--namesrv', namesrv, '--json', ...(group ? ['--group', group] : [])]);
  assert.equal(r.code, 0, `txn list exited with ${r.code}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, PendingTxn[]>;
}

/** Every message of `topic` from offset 0 of every queue, read with a PullConsumer (bounded: 200 pulls per queue). */
export async function readTopic(namesrv: string, topic: string, group = 'CG_txn_reader'): Promise<MessageExt[]> {
  const consumer = new PullConsumer({ namesrv, group, logger: { warn: () => undefined } });
  await consumer.start();
  try {
    const out: MessageExt[] = [];
    for (const queue of await consumer.fetchQueues(topic)) {
      let offset = 0;
      for (let i = 0; i < 200; i++) {
        const r = await consumer.pull(queue, offset, 256);
        if (r.status !== 'FOUND') break;
        out.push(...r.messages);
        if (r.nextBeginOffset <= offset) break;
        offset = r.nextBeginOffset;
        if (offset >= r.maxOffset) break;
      }
    }
    return out;
  } finally {
    await consumer.shutdown();
  }
}

/** How many times each value occurs. */
export function tally(values: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

