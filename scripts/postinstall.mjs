#!/usr/bin/env node
// Project install step, run by `npm install` / `npm ci` after dependencies are in place.
//
// 1. mmap-io: its own install script compiles with -std=c++11, but Node 20's headers need C++17.
//    package.json sets `"allowScripts": {"mmap-io": false}` so npm skips that script, and we build the
//    addon here with CXXFLAGS=-std=c++17 (a later -std flag wins over the package's own).
// 2. TypeScript: compile the project to dist/ so `npx ledgermq` works right after install.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

function mmapIoWorks() {
  try {
    const mmap = require('mmap-io');
    return typeof mmap.map === 'function' && mmap.PAGESIZE > 0;
  } catch {
    return false;
  }
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((p) => p && existsSync(p));
}

function buildMmapIo() {
  if (mmapIoWorks()) return;
  const pkgDir = path.dirname(require.resolve('mmap-io/package.json'));
  const gyp = findNodeGyp();
  if (!gyp) throw new Error('postinstall: cannot find node-gyp (looked beside npm); cannot build mmap-io');
  console.log(`postinstall: building mmap-io with -std=c++17 in ${pkgDir}`);
  execFileSync(process.execPath, [gyp, 'rebuild'], {
    cwd: pkgDir,
    stdio: 'inherit',
    env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -std=c++17`.trim() },
  });
  // require() caches failures per path only for successful loads, so a fresh check is reliable.
  if (!mmapIoWorks()) throw new Error('postinstall: mmap-io was built but still does not load');
}

function compileTypeScript() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    console.log('postinstall: typescript not installed (production install?); skipping compile');
    return;
  }
  console.log('postinstall: compiling TypeScript to dist/');
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
}

buildMmapIo();
compileTypeScript();
