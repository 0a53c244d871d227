// System dependencies of the tests (Chromium for the browser tests; Maven and JDKs for the
// engines, see services.mjs): found on the machine, installed from the system's packages when the
// command may (root with apt-get), or refused with a message that says exactly what to install.
//
//   chromiumPath()                 CHROMIUM_PATH, else chromium on PATH, else apt-get install chromium
//   ensureCommand(cmd, pkgs, why)  the command on PATH, else apt-get install the first known package
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const APT_ATTEMPTS = 3;
const APT_RETRY_MS = 15_000;
const APT_LOCK_TIMEOUT_SECS = 120;

const say = (msg) => process.stderr.write(`[provision] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first of `names` found on PATH, as an absolute path. */
function which(names) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const p = path.join(dir, name);
      if (isExecutable(p)) return p;
    }
  }
  return undefined;
}

/** Installing is allowed when we are root on a machine with apt-get (CI, fresh containers). */
export function canAptInstall() {
  return process.getuid?.() === 0 && which(['apt-get']) !== undefined;
}

function apt(args) {
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.error ? 1 : (r.status ?? 1);
}

/** Package names apt knows, among `candidates` (the first known one is installed). */
function firstKnownPackage(candidates) {
  for (const pkg of candidates) {
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', pkg], { stdio: 'ignore' });
    if (r.status === 0) return pkg;
  }
  return undefined;
}

/**
 * apt-get update + install, retried: mirrors mid-sync and a dpkg lock held by unattended upgrades
 * fail transiently. The index is refreshed first, so a package unknown before the update is found.
 */
export async function aptInstall(candidates) {
  let lastError = '';
  for (let attempt = 1; attempt <= APT_ATTEMPTS; attempt++) {
    const lock = ['-o', `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_SECS}`];
    if (apt(['update', '-q', ...lock]) === 0) {
      const pkg = firstKnownPackage(candidates);
      if (!pkg) throw new Error(`apt-get knows none of ${candidates.join(', ')} (after apt-get update)`);
      say(`apt-get install ${pkg}`);
      if (apt(['install', '-y', '-q', '--no-install-recommends', ...lock, pkg]) === 0) return pkg;
      lastError = `apt-get install ${pkg} failed`;
    } else {
      lastError = 'apt-get update failed';
    }
    if (attempt < APT_ATTEMPTS) {
      say(`${lastError} (attempt ${attempt} of ${APT_ATTEMPTS}); retrying in ${APT_RETRY_MS / 1000} s`);
      await sleep(APT_RETRY_MS);
    }
  }
  throw new Error(`${lastError} after ${APT_ATTEMPTS} attempts`);
}

/**
 * `command` on PATH; when missing, installed from the first of `packages` apt knows if we may,
 * else an error naming what to install.
 */
export async function ensureCommand(command, packages, why) {
  const found = which([command]);
  if (found) return found;
  if (!canAptInstall()) {
    throw new Error(`${why} needs \`${command}\`, which is not on PATH: install it (apt-get install ${packages[0]}, as root) and run again`);
  }
  say(`${why} needs \`${command}\`, which is missing: installing it`);
  await aptInstall(packages);
  const installed = which([command]);
  if (!installed) throw new Error(`installed ${packages.join(' or ')} but \`${command}\` is still not on PATH`);
  return installed;
}

const CHROMIUM_NAMES = ['chromium', 'chromium-browser'];

/**
 * The Chromium the browser tests drive (playwright-core; playwright's own browser downloads are
 * not used). CHROMIUM_PATH wins and must point at an executable.
 */
export async function chromiumPath() {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`CHROMIUM_PATH=${override} is not an executable file`);
    return override;
  }
  const found = which(CHROMIUM_NAMES);
  if (found) return found;
  if (!canAptInstall()) {
    throw new Error(
      'the browser tests need Chromium, which was not found (chromium, chromium-browser on PATH): ' +
        'install it (apt-get install chromium, as root) or set CHROMIUM_PATH to a Chromium executable',
    );
  }
  say('the browser tests need Chromium, which is missing: installing Debian\'s chromium');
  await aptInstall(['chromium', 'chromium-browser']);
  const installed = which(CHROMIUM_NAMES);
  if (!installed) throw new Error('installed chromium but found no chromium executable on PATH');
  return installed;
}
