// Swarm options: one seed decides the cluster shape, the limits, and every fault rate, so that runs
// differ widely from seed to seed and any failure replays exactly from its seed.

import { SeededPrng } from '../../dledger/core/prng.js';
import type { NodeId } from '../../dledger/core/types.js';
import type { NetworkFaults } from './sim-network.js';

export interface SimOptions {
  readonly seed: number;
  readonly voterCount: number;
  /** Nodes that start outside the group and may be added as learners, then promoted. */
  readonly spareCount: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly batchBytesMax: number;
  readonly inflightBatchesMax: number;
  readonly inflightBytesMax: number;
  readonly uncommittedEntriesMax: number;
  readonly segmentEntries: number;
  readonly network: NetworkFaults;
  readonly diskLatencyMin: number;
  readonly diskLatencyMax: number;
  /** During the fault phase this node's disk is slower than its round trips (null: none). */
  readonly slowDiskNode: NodeId | null;
  readonly slowDiskLatencyMax: number;
  /** Each node's clock runs at 1 ± up to this fraction. */
  readonly clockSkew: number;
  readonly crashRate: number;
  /** Crash whichever node leads (leader churn: the Raft paper's figure 8 needs it). */
  readonly leaderCrashRate: number;
  /**
   * BUGGIFY-style: after a node grants a vote (or a leader writes locally), crash it within the disk
   * latency window with this probability, so unpersisted state is lost exactly where it matters.
   */
  readonly crashAfterWriteRate: number;
  /** Cut the current leader off (both ways, or only its sends) for a short while. */
  readonly leaderIsolateRate: number;
  readonly restartTicksMax: number;
  readonly partitionRate: number;
  readonly partitionTicksMax: number;
  readonly pauseRate: number;
  readonly pauseTicksMax: number;
  readonly proposalRate: number;
  readonly proposalEntriesMax: number;
  readonly entryBytesMax: number;
  readonly membershipRate: number;
  readonly transferRate: number;
  readonly compactionRate: number;
  readonly preferredLeader: NodeId | null;
  readonly faultTicks: number;
  /**
   * The liveness phase must elect a leader, commit every request and catch every member up within
   * this many ticks plus `livenessTicksPerEntry` per entry of backlog (highest last index minus
   * lowest commit index at healing time).
   */
  readonly livenessTicksMax: number;
  readonly livenessTicksPerEntry: number;
  readonly livenessRequests: number;
}

export function nodeIds(options: Pick<SimOptions, 'voterCount' | 'spareCount'>): NodeId[] {
  const ids: NodeId[] = [];
  for (let i = 1; i <= options.voterCount + options.spareCount; i++) ids.push(`n${i}`);
  return ids;
}

function maybe(prng: SeededPrng, probability: number, rate: number): number {
  return prng.chance(probability) ? rate : 0;
}

export function drawOptions(seed: number): SimOptions {
  const prng = new SeededPrng(seed);
  const voterCount = prng.chance(0.5) ? 3 : 5;
  const membership = prng.chance(0.3);
  // Batches hold at least four entries (unless segments are smaller) and the window at least two
  // batches, which bounds how fast a lagging follower catches up; the liveness budget relies on it.
  const entryBytesMax = prng.pick([64, 256, 1024]);
  const batchBytesMax = prng.pick([4096, 16384, 65536]);
  const delayMin = prng.between(1, 2);
  const delayMax = delayMin + prng.between(0, 3);
  const linkDelayExtraMax = prng.chance(0.3) ? prng.between(1, 2) : 0;
  const diskLatencyMax = prng.between(0, 4);
  // Raft's timing requirement: a vote round trip (disk, network, disk, network) fits in the minimum
  // election timeout, or elections may never complete even on a healed network.
  const voteRoundTripTicksMax = 2 * (delayMax + linkDelayExtraMax + diskLatencyMax);
  const electionTicksMin = Math.max(6, voteRoundTripTicksMax + 2);
  const electionTicks = prng.between(electionTicksMin, electionTicksMin + 8);
  const heartbeatTicks = prng.between(1, Math.max(1, Math.floor(electionTicks / 4)));
  // Tiny segments cut every batch at one or two entries (batches never cross a segment).
  const segmentEntries = prng.pick([1, 2, 4, 16, 64]);
  const inflightBatchesMax = prng.between(2, 8);
  const entriesPerRoundTripMin = Math.min(segmentEntries, Math.floor(batchBytesMax / entryBytesMax)) * inflightBatchesMax;
  return {
    seed,
    voterCount,
    spareCount: membership ? prng.between(1, 2) : 0,
    electionTicks,
    heartbeatTicks,
    preVote: prng.chance(0.9),
    checkQuorum: prng.chance(0.9),
    batchBytesMax,
    inflightBatchesMax,
    inflightBytesMax: batchBytesMax * inflightBatchesMax,
    uncommittedEntriesMax: prng.between(16, 256),
    segmentEntries,
    network: {
      delayMin,
      delayMax,
      linkDelayExtraMax,
      dropRate: maybe(prng, 0.7, prng.nextFloat() * 0.12),
      duplicateRate: maybe(prng, 0.5, prng.nextFloat() * 0.08),
    },
    diskLatencyMin: 0,
    diskLatencyMax,
    slowDiskNode: prng.chance(0.3) ? `n${prng.between(1, voterCount)}` : null,
    slowDiskLatencyMax: prng.between(diskLatencyMax + 2, diskLatencyMax + 12),
    clockSkew: maybe(prng, 0.5, prng.nextFloat() * 0.3),
    crashRate: maybe(prng, 0.7, prng.nextFloat() * 0.012),
    leaderCrashRate: maybe(prng, 0.4, prng.nextFloat() * 0.03),
    crashAfterWriteRate: maybe(prng, 0.3, prng.nextFloat() * 0.2),
    leaderIsolateRate: maybe(prng, 0.6, 0.01 + prng.nextFloat() * 0.05),
    restartTicksMax: prng.between(5, 60),
    partitionRate: maybe(prng, 0.6, prng.nextFloat() * 0.015),
    partitionTicksMax: prng.between(10, 120),
    pauseRate: maybe(prng, 0.3, prng.nextFloat() * 0.006),
    pauseTicksMax: prng.between(3, 2 * electionTicks),
    proposalRate: 0.1 + prng.nextFloat() * 0.6,
    proposalEntriesMax: prng.between(1, 4),
    entryBytesMax,
    membershipRate: membership ? 0.01 + prng.nextFloat() * 0.09 : 0,
    transferRate: maybe(prng, 0.3, prng.nextFloat() * 0.01),
    compactionRate: maybe(prng, 0.3, 0.01 + prng.nextFloat() * 0.05),
    preferredLeader: prng.chance(0.15) ? `n${prng.between(1, voterCount)}` : null,
    faultTicks: prng.between(150, 350),
    livenessTicksMax: 40 * electionTicks + 200,
    livenessTicksPerEntry: Math.ceil((2 * voteRoundTripTicksMax) / entriesPerRoundTripMin) + 1,
    livenessRequests: prng.between(3, 10),
  };
}
