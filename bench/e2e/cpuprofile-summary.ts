// Summarises V8 .cpuprofile files (node --cpu-prof): self time per function and per source folder (broker/,
// store/, remoting/, client/, ..., node internals, GC, idle), and total (inclusive) time of the heaviest functions.
// Usage: node dist/bench/e2e/cpuprofile-summary.js FILE.cpuprofile [--top 25] [--match TEXT] [--from-s S] [--to-s S]
// (--from-s / --to-s: only the samples in that window, seconds from the profile's start, e.g. to leave out start-up)
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: cpuprofile-summary FILE.cpuprofile [--top N] [--match TEXT] [--from-s S] [--to-s S]');
const topIdx = args.indexOf('--top');
const TOP = topIdx >= 0 ? Number(args[topIdx + 1]) : 25;
const matchIdx = args.indexOf('--match');
const MATCH = matchIdx >= 0 ? args[matchIdx + 1] : undefined;
const secondsFlag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const FROM_US = secondsFlag('--from-s', 0) * 1e6;
const TO_US = secondsFlag('--to-s', Infinity) * 1e6;

const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const n of profile.nodes) byId.set(n.id, n);
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
let sinceStartUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  sinceStartUs += profile.timeDeltas[i] ?? 0;
  if (sinceStartUs < FROM_US || sinceStartUs > TO_US) continue;
  const id = profile.samples[i]!;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
}

function folderOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return '(gc)';
  if (fn === '(idle)') return '(idle)';
  if (fn === '(program)') return '(program)';
  if (url === '') return '(native/builtin)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const m = /\/dist\/([^/]+)\//.exec(url);
  if (m) return m[1]!;
  const nm = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  return path.basename(url);
}

const label = (n: ProfileNode): string => {
  const cf = n.callFrame;
  const where = cf.url ? `${cf.url.replace(/^.*\/dist\//, '').replace(/^file:\/\//, '')}:${cf.lineNumber + 1}` : '';
  return `${cf.functionName || '(anonymous)'} ${where}`.trim();
};

const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idleUs = [...selfUs.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
const busyUs = totalUs - idleUs;
const pct = (us: number): string => `${((100 * us) / busyUs).toFixed(1)}%`.padStart(6);
console.log(`${file}: ${(totalUs / 1000).toFixed(0)} ms sampled, ${(busyUs / 1000).toFixed(0)} ms busy (percentages are of busy time)`);

const folders = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  if (n.callFrame.functionName === '(idle)') continue;
  const folder = folderOf(n.callFrame.url, n.callFrame.functionName);
  folders.set(folder, (folders.get(folder) ?? 0) + us);
  const key = label(n);
  fns.set(key, (fns.get(key) ?? 0) + us);
}
console.log('\nself time by folder:');
for (const [k, v] of [...folders].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(v)} ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
console.log(`\nself time by function (top ${TOP}):`);
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(v)} ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);

// inclusive time: each sample counts once for every distinct function on its stack
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const key = label(byId.get(cur)!);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}
const incl = [...inclusive].filter(([k]) => (MATCH ? k.includes(MATCH) : /dist\/(broker|store|remoting|client|common|dledger|namesrv)\//.test(k) || /^(\S+) (broker|store|remoting|client|common|dledger|namesrv)\//.test(k)));
console.log(`\ntotal (inclusive) time of ${MATCH ? `functions matching ${MATCH}` : 'ledgermq functions'} (top ${TOP}):`);
for (const [k, v] of incl.sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(v)} ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
