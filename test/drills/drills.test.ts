// Failure drills with real processes (what operators of replicated brokers run before trusting a cluster).
// Each drill runs a workload (ordered senders with unique keys, a consumer group) throughout and checks zero loss
// of acknowledged messages, per-queue order, at most one leader per term; it reports duplicates, the longest gap
// between successful sends and the time to a new leader as one JSON line ("drill-report ...").
// LEDGERMQ_DRILL_RUNS=N repeats each drill N times (opt-in; the default suite runs each once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from '../harness/cluster.js';
import { RemotingClient, ResponseCode, createRequest } from '../../remoting/index.js';
import { RAFT_MEMBERSHIP_CODE, RAFT_TRANSFER_CODE } from '../../dledger/limits.js';
import { LeaderMonitor, Workload, report, sleep, waitCaughtUp, type DrillReport } from './drill-kit.js';

const RUNS = Number(process.env.LEDGERMQ_DRILL_RUNS ?? 1);
const DRILL_TIMEOUT_MS = 150_000;

function check(r: DrillReport, minAckedAfterFault: number, ackedAfterFault: number): void {
  console.log(`drill-report ${JSON.stringify(r)}`);
  assert.equal(r.lost, 0, `${r.drill}: ${r.lost} acknowledged messages were never consumed`);
  assert.equal(r.orderViolations, 0, `${r.drill}: per-queue order violated ${r.orderViolations} times`);
  assert.deepEqual(r.leaderConflicts, [], `${r.drill}: more than one leader in a term`);
  assert.ok(ackedAfterFault >= minAckedAfterFault, `${r.drill}: only ${ackedAfterFault} sends succeeded after the fault`);
}

async function withCluster(options: Parameters<typeof TestCluster.start>[0], body: (c: TestCluster, m: LeaderMonitor) => Promise<void>): Promise<void> {
  const cluster = await TestCluster.start(options);
  const monitor = new LeaderMonitor(cluster);
  monitor.start();
  try {
    await body(cluster, monitor);
  } catch (err) {
    console.error(`recent cluster logs:\n${cluster.recentLogs(80)}`);
    throw err;
  } finally {
    monitor.stop();
    await cluster.stop();
  }
}

const statusOf = async (c: TestCluster, id: string) => (await c.statuses()).find((s) => s.raftId === id);

for (let run = 1; run <= RUNS; run++) {
  const suffix = RUNS > 1 ? ` (run ${run})` : '';

  test(`drill 1: kill -9 the leader of 3 nodes under load, restart it, it catches up${suffix}`, { timeout: DRILL_TIMEOUT_MS }, async () => {
    await withCluster({ nodes: 3 }, async (cluster, monitor) => {
      const w = new Workload(cluster, `kill3-${run}`);
      await w.start();
      await sleep(2000);
      const leader = await cluster.waitForLeader();
      const term = (await statusOf(cluster, leader))!.term;
      const faultAt = Date.now();
      await cluster.killNode(leader);
      const next = await monitor.timeToNewLeader(faultAt, leader, term);
      await sleep(2000);
      await cluster.startNode(leader);
      await waitCaughtUp(cluster, leader);
      await sleep(1000);
      const ackedAfter = w.ackTimes.filter((t) => t > faultAt).length;
      await w.stop();
      check(report('kill-leader-3', w, monitor, next.ms, { newLeader: next.leader, unavailabilityAfterFaultMs: w.longestGapMs(faultAt - 100) }), 50, ackedAfter);
    });
  });

  test(`drill 2: kill -9 two of 5 nodes, one of them the leader${suffix}`, { timeout: DRILL_TIMEOUT_MS }, async () => {
    await withCluster({ nodes: 5 }, async (cluster, monitor) => {
      const w = new Workload(cluster, `kill5-${run}`);
      await w.start();
      await sleep(2000);
      const leader = await cluster.waitForLeader();
      const term = (await statusOf(cluster, leader))!.term;
      const follower = cluster.nodes.map((n) => n.raftId).find((id) => id !== leader)!;
      const faultAt = Date.now();
      await Promise.all([cluster.killNode(leader), cluster.killNode(follower)]);
      const next = await monitor.timeToNewLeader(faultAt, leader, term);
      await sleep(2000);
      await Promise.all([cluster.startNode(leader), cluster.startNode(follower)]);
      await waitCaughtUp(cluster, leader);
      await waitCaughtUp(cluster, follower);
      const ackedAfter = w.ackTimes.filter((t) => t > faultAt).length;
      await w.stop();
      check(report('kill-two-of-5', w, monitor, next.ms, { killed: [leader, follower], newLeader: next.leader, unavailabilityAfterFaultMs: w.longestGapMs(faultAt - 100) }), 50, ackedAfter);
    });
  });

  test(`drill 3: partition the leader (both ways, then one way); it steps down, nothing acknowledged is lost${suffix}`, { timeout: DRILL_TIMEOUT_MS }, async () => {
    await withCluster({ nodes: 3, linkProxies: true }, async (cluster, monitor) => {
      const w = new Workload(cluster, `partition-${run}`);
      await w.start();
      await sleep(2000);
      const ids = cluster.nodes.map((n) => n.raftId);
      const phases: Array<{ kind: string; newLeaderMs: number; oldLeaderStepDownMs: number; unavailabilityMs: number }> = [];
      for (const kind of ['both-ways', 'one-way (leader cannot receive)']) {
        const leader = await cluster.waitForLeader();
        const term = (await statusOf(cluster, leader))!.term;
        const others = ids.filter((id) => id !== leader);
        const faultAt = Date.now();
        cluster.links.isolate(leader, others, kind === 'both-ways' ? { outbound: true, inbound: true } : { outbound: false, inbound: true });
        const next = await monitor.timeToNewLeader(faultAt, leader, term);
        // check-quorum: the isolated leader must stop being leader on its own
        let stepDownMs = -1;
        for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
          const s = await statusOf(cluster, leader);
          if (s && s.role !== 'leader') {
            stepDownMs = Date.now() - faultAt;
            break;
          }
        }
        assert.ok(stepDownMs >= 0, `isolated leader ${leader} did not step down (check-quorum)`);
        await sleep(1500);
        cluster.links.healAll();
        await waitCaughtUp(cluster, leader);
        phases.push({ kind, newLeaderMs: next.ms, oldLeaderStepDownMs: stepDownMs, unavailabilityMs: w.longestGapMs(faultAt - 100) });
      }
      await sleep(1000);
      const ackedAfter = w.ackTimes.length;
      await w.stop();
      // after healing, every replica holds the same log
      const statuses = await cluster.statuses();
      assert.equal(statuses.length, 3);
      const lastIndexes = new Set(statuses.map((s) => s.lastIndex));
      for (let i = 0; i < 50 && lastIndexes.size > 1; i++) {
        await sleep(100);
        lastIndexes.clear();
        for (const s of await cluster.statuses()) lastIndexes.add(s.lastIndex);
      }
      assert.equal(lastIndexes.size, 1, 'replicas converge to the same last index after healing');
      check(report('partition-leader', w, monitor, phases[0]!.newLeaderMs, { phases }), 50, ackedAfter);
    });
  });

  test(`drill 4: add two nodes to a loaded 3-node group, then remove two (one the leader)${suffix}`, { timeout: DRILL_TIMEOUT_MS }, async () => {
    await withCluster({ nodes: 3 }, async (cluster, monitor) => {
      const w = new Workload(cluster, `members-${run}`);
      await w.start();
      await sleep(1500);
      const client = new RemotingClient({ logger: { warn: () => undefined } });
      const leaderAddr = async (): Promise<string> => cluster.node(await cluster.waitForLeader()).addr;
      const timings: Record<string, number> = {};
      try {
        for (const id of ['n3', 'n4']) {
          const node = await cluster.addNode(id);
          const t0 = Date.now();
          const r = await client.invoke(await leaderAddr(), createRequest(RAFT_MEMBERSHIP_CODE, { change: 'add', node: id, address: `127.0.0.1:${node.raftPort}`, timeoutMs: '60000' }), 90_000);
          assert.equal(r.code, ResponseCode.SUCCESS, `adding ${id}: ${r.remark}`);
          timings[`add-${id}-ms`] = Date.now() - t0;
        }
        let leader = await cluster.waitForLeader();
        assert.deepEqual([...(await statusOf(cluster, leader))!.membership.voters].sort(), ['n0', 'n1', 'n2', 'n3', 'n4']);
        await sleep(1000);
        // remove a follower, then the leader (leadership is handed over first)
        const follower = ['n0', 'n1', 'n2'].find((id) => id !== leader)!;
        let r = await client.invoke(cluster.node(leader).addr, createRequest(RAFT_MEMBERSHIP_CODE, { change: 'remove', node: follower }), 30_000);
        assert.equal(r.code, ResponseCode.SUCCESS, `removing ${follower}: ${r.remark}`);
        const successor = ['n3', 'n4'][0]!;
        const t1 = Date.now();
        r = await client.invoke(cluster.node(leader).addr, createRequest(RAFT_TRANSFER_CODE, { to: successor }), 30_000);
        assert.equal(r.code, ResponseCode.SUCCESS, `transfer to ${successor}: ${r.remark}`);
        const newLeader = await cluster.waitForLeader(20_000, [leader]);
        timings['transfer-before-remove-ms'] = Date.now() - t1;
        r = await client.invoke(cluster.node(newLeader).addr, createRequest(RAFT_MEMBERSHIP_CODE, { change: 'remove', node: leader }), 30_000);
        assert.equal(r.code, ResponseCode.SUCCESS, `removing the old leader ${leader}: ${r.remark}`);
        const removed = [follower, leader];
        leader = newLeader;
        const voters = [...(await statusOf(cluster, leader))!.membership.voters].sort();
        assert.equal(voters.length, 3);
        for (const id of removed) assert.ok(!voters.includes(id));
        await sleep(1000);
        // the removed nodes are out: killing them changes nothing for the group
        const killedAt = Date.now();
        for (const id of removed) await cluster.killNode(id);
        await sleep(2000);
        assert.equal((await cluster.waitForLeader()), leader, 'the leader did not change when removed nodes died');
        const ackedAfter = w.ackTimes.filter((t) => t > killedAt).length;
        await w.stop();
        check(report('membership-add2-remove2', w, monitor, null, { ...timings, removed, finalVoters: voters }), 20, ackedAfter);
      } finally {
        await client.close();
      }
    });
  });

  test(`drill 5: leadership transfer under load${suffix}`, { timeout: DRILL_TIMEOUT_MS }, async () => {
    await withCluster({ nodes: 3 }, async (cluster, monitor) => {
      const w = new Workload(cluster, `transfer-${run}`);
      await w.start();
      await sleep(2000);
      const leader = await cluster.waitForLeader();
      const target = cluster.nodes.map((n) => n.raftId).find((id) => id !== leader)!;
      const client = new RemotingClient({ logger: { warn: () => undefined } });
      const t0 = Date.now();
      try {
        const r = await client.invoke(cluster.node(leader).addr, createRequest(RAFT_TRANSFER_CODE, { to: target }), 30_000);
        assert.equal(r.code, ResponseCode.SUCCESS, `transfer: ${r.remark}`);
      } finally {
        await client.close();
      }
      const newLeader = await cluster.waitForLeader(10_000, [leader]);
      const transferMs = Date.now() - t0;
      assert.equal(newLeader, target);
      await sleep(2000);
      const ackedAfter = w.ackTimes.filter((t) => t > t0).length;
      await w.stop();
      check(report('leadership-transfer', w, monitor, transferMs, { from: leader, to: target, unavailabilityAfterTransferMs: w.longestGapMs(t0 - 100) }), 50, ackedAfter);
    });
  });
}
