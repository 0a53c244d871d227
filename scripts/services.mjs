#!/usr/bin/env node
// Real Kafka (one KRaft node, broker + controller) and Elasticsearch (one node) on 127.0.0.1,
// without Docker: artifacts come from Maven Central through `mvn` and are cached between runs.
//
//   node scripts/services.mjs up|down|status|env
//   node scripts/services.mjs start|stop|restart kafka|elasticsearch
//
// As a module: up({ quiet }) -> { kafka: { brokers }, elasticsearch: { url }, dir }, down(),
// status(), and start(name) / stop(name, { force }) / restart(name) for the fault suite.
//
// Versions live in engines.json (shared with docker-compose.yml). Everything else lives in one
// folder, TIDEWATCH_SERVICES_DIR (default /var/tmp/tidewatch-services, not under /root because
// Elasticsearch refuses root and runs as a system user that must be able to enter it):
//   dist/kafka_<scala>-<version>/*.jar       broker + runtime deps (cache, keyed by version)
//   dist/elasticsearch-<version>/            unpacked integ-test zip (cache, keyed by version)
//   kafka/          server.properties, data/, kafka.log, pid, state.json
//   elasticsearch/  config/, data/, logs/, elasticsearch.log, pid, state.json
//   maven.log       output of the last artifact resolution
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptInstall, canAptInstall, ensureCommand } from './provision.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENGINES = JSON.parse(fs.readFileSync(path.join(ROOT, 'engines.json'), 'utf8'));
const NAMES = /** @type {const} */ (['kafka', 'elasticsearch']);
const PROBE_TOPIC = 'tidewatch-services-probe';
const STOP_TIMEOUT_MS = 30_000;
const LOCK_STALE_MS = 20 * 60_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let quietMode = false;
const say = (msg) => { if (!quietMode) process.stderr.write(`[services] ${msg}\n`); };

// ---------------------------------------------------------------------------------------------
// Configuration: read from the environment at call time, so a caller may set it before calling.

function envPort(name, fallback) {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${raw} is not a TCP port`);
  return n;
}

function config() {
  const dir = path.resolve(process.env.TIDEWATCH_SERVICES_DIR || '/var/tmp/tidewatch-services');
  const timeoutSecs = Number(process.env.TIDEWATCH_SERVICES_TIMEOUT_SECS || 300);
  return {
    dir,
    timeoutMs: (Number.isFinite(timeoutSecs) && timeoutSecs > 0 ? timeoutSecs : 300) * 1000,
    esUser: process.env.TIDEWATCH_ES_USER || 'tidewatch-es',
    ports: {
      kafka: { port: envPort('TIDEWATCH_KAFKA_PORT', 19092), controllerPort: envPort('TIDEWATCH_KAFKA_CONTROLLER_PORT', 19093) },
      elasticsearch: { port: envPort('TIDEWATCH_ES_PORT', 19200), transportPort: envPort('TIDEWATCH_ES_TRANSPORT_PORT', 19300) },
    },
  };
}

function engineOf(name, cfg) {
  if (!NAMES.includes(name)) throw new Error(`unknown engine "${name}": expected kafka or elasticsearch`);
  const v = ENGINES[name];
  const state = path.join(cfg.dir, name);
  return {
    name,
    version: v.version,
    install: path.join(cfg.dir, 'dist', name === 'kafka' ? `kafka_${v.scala}-${v.version}` : `elasticsearch-${v.version}`),
    state,
    pidFile: path.join(state, 'pid'),
    stateFile: path.join(state, 'state.json'),
    logFile: path.join(state, `${name}.log`),
    // Guards against a stale pid file whose pid now belongs to another program.
    marker: name === 'kafka' ? 'kafka.Kafka' : 'elasticsearch',
    ports: cfg.ports[name],
  };
}

const endpointOf = (name, ports) =>
  name === 'kafka' ? { brokers: [`127.0.0.1:${ports.port}`] } : { url: `http://127.0.0.1:${ports.port}` };

// ---------------------------------------------------------------------------------------------
// Small helpers: files, processes, ports.

function mkdirOpen(dir) {
  fs.mkdirSync(dir, { recursive: true });
  // Explicit mode: the Elasticsearch user must be able to traverse our folders whatever the umask.
  fs.chmodSync(dir, 0o755);
}

function readJson(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return undefined; }
}

function tail(file, lines = 25) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '(no log yet)';
  }
}

function withLogTail(message, file) {
  return new Error(`${message}\n--- last lines of ${file} ---\n${tail(file)}\n---`);
}

function rotate(file) {
  try { fs.renameSync(file, `${file}.1`); } catch (e) { if (e.code !== 'ENOENT') throw e; }
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/** Pid of the engine's process group when it is running, else undefined. */
function runningPid(eng) {
  const pid = Number(fs.existsSync(eng.pidFile) ? fs.readFileSync(eng.pidFile, 'utf8').trim() : NaN);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // The engines run in their own process group (detached): the group outlives a leader that
  // died first (Elasticsearch's launcher forks the server JVM), so probe the group.
  try { process.kill(-pid, 0); } catch { return undefined; }
  try {
    // Empty while the process is in the middle of an exec (setpriv -> bash -> java at start-up)
    // or a zombie: only a non-empty command line without our marker means the pid was reused.
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline && !cmdline.includes(eng.marker)) return undefined;
  } catch {
    // Leader gone but group alive: the server child is still ours.
  }
  return pid;
}

function portInUse(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return r;
}

/** Runs a command to completion with its output appended to a log file. */
function runLogged(cmd, args, logFile, opts = {}) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

// ---------------------------------------------------------------------------------------------
// Lock: several engineers (and CI) share one services folder; two concurrent `up`s must not
// both resolve artifacts or start a second broker on the same data.

async function withLock(cfg, fn) {
  mkdirOpen(cfg.dir);
  const file = path.join(cfg.dir, 'services.lock');
  const deadline = Date.now() + LOCK_STALE_MS;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = NaN;
      let age = 0;
      try {
        holder = Number(fs.readFileSync(file, 'utf8'));
        age = Date.now() - fs.statSync(file).mtimeMs;
      } catch { continue; }
      if (holder === process.pid) throw new Error('services lock re-entered by the same process (bug)');
      if (!pidAlive(holder) || age > LOCK_STALE_MS) {
        try { fs.unlinkSync(file); } catch { /* another waiter removed it first */ }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by pid ${holder})`);
      if (!announced) { say(`waiting for another services command (pid ${holder}) to finish`); announced = true; }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    try { fs.unlinkSync(file); } catch { /* already gone */ }
  }
}

// ---------------------------------------------------------------------------------------------
// Java: Kafka 4 needs 17+, Elasticsearch 9 needs 21+ (engines.json javaMin). Kafka takes the
// oldest JDK that fits (the one it is tested on most), Elasticsearch the newest.

function jdkMajor(home) {
  try {
    if (!fs.existsSync(path.join(home, 'bin', 'java'))) return undefined;
    const m = /JAVA_VERSION="(\d+)(?:\.(\d+))?/.exec(fs.readFileSync(path.join(home, 'release'), 'utf8'));
    if (!m) return undefined;
    return m[1] === '1' ? Number(m[2]) : Number(m[1]);
  } catch {
    return undefined;
  }
}

function findJdk(min, { explicitVar, preferNewest, forWhat }) {
  const explicit = explicitVar && process.env[explicitVar];
  if (explicit) {
    const major = jdkMajor(explicit);
    if (!major || major < min) {
      throw new Error(`${explicitVar}=${explicit} is ${major ? `Java ${major}` : 'not a JDK'}; ${forWhat} needs Java ${min} or newer`);
    }
    return explicit;
  }
  const homes = new Set();
  const add = (p) => { try { homes.add(fs.realpathSync(p)); } catch { /* missing */ } };
  if (process.env.JAVA_HOME) add(process.env.JAVA_HOME);
  try { for (const d of fs.readdirSync('/usr/lib/jvm')) add(path.join('/usr/lib/jvm', d)); } catch { /* none */ }
  const fits = [...homes]
    .map((home) => ({ home, major: jdkMajor(home) }))
    .filter((j) => j.major && j.major >= min)
    .sort((a, b) => (preferNewest ? b.major - a.major : a.major - b.major));
  if (!fits.length) {
    throw new Error(
      `no JDK ${min} or newer found under /usr/lib/jvm or JAVA_HOME: ${forWhat} needs Java ${min}+. ` +
        `Install one (e.g. apt-get install -y openjdk-${Math.max(min, 21)}-jdk-headless) or set ${explicitVar || 'JAVA_HOME'}.`,
    );
  }
  return fits[0].home;
}

/**
 * A JDK for each engine about to start: a missing one is installed from the system's packages when
 * we may (root with apt-get), else findJdk's error says what to install.
 */
async function ensureJdks(engines) {
  for (const eng of engines) {
    const min = ENGINES[eng.name].javaMin;
    const explicitVar = eng.name === 'kafka' ? 'TIDEWATCH_KAFKA_JAVA_HOME' : 'ES_JAVA_HOME';
    try {
      findJdk(min, { explicitVar, forWhat: `${eng.name} ${eng.version}` });
    } catch (e) {
      if (process.env[explicitVar] || !canAptInstall()) throw e;
      say(`${eng.name} needs Java ${min}+, which is missing: installing a JDK`);
      await aptInstall([17, 21, 25].filter((v) => v >= min).map((v) => `openjdk-${v}-jdk-headless`));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Artifacts from Maven Central, one `mvn` run for whatever is missing. A throwaway pom names the
// broker and the zip; named executions let the command line pick the parts it needs.

const installed = (eng) => fs.existsSync(eng.install);

function artifactPom(work) {
  const k = ENGINES.kafka;
  const e = ENGINES.elasticsearch;
  const dep = (g, a, v) => `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tidewatch</groupId>
  <artifactId>services-artifacts</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.kafka', `kafka_${k.scala}`, k.version)}
    ${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', k.log4j)}
    ${dep('org.apache.logging.log4j', 'log4j-core', k.log4j)}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${ENGINES.maven.dependencyPlugin}</version>
        <executions>
          <execution>
            <id>kafka</id>
            <configuration>
              <includeScope>runtime</includeScope>
              <outputDirectory>${path.join(work, 'kafka')}</outputDirectory>
            </configuration>
          </execution>
          <execution>
            <id>elasticsearch</id>
            <configuration>
              <artifactItems>
                <artifactItem>
                  <groupId>org.elasticsearch.distribution.integ-test-zip</groupId>
                  <artifactId>elasticsearch</artifactId>
                  <version>${e.version}</version>
                  <type>zip</type>
                </artifactItem>
              </artifactItems>
              <outputDirectory>${path.join(work, 'elasticsearch')}</outputDirectory>
            </configuration>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

async function resolveArtifacts(cfg, engines) {
  const dist = path.join(cfg.dir, 'dist');
  mkdirOpen(dist);
  const work = fs.mkdtempSync(path.join(dist, '.maven-'));
  const mavenLog = path.join(cfg.dir, 'maven.log');
  await ensureCommand('mvn', ['maven'], 'resolving the engines from Maven Central');
  try {
    fs.writeFileSync(path.join(work, 'pom.xml'), artifactPom(work));
    fs.writeFileSync(mavenLog, '');
    const goals = engines.map((eng) => (eng.name === 'kafka' ? 'dependency:copy-dependencies@kafka' : 'dependency:copy@elasticsearch'));
    say(`resolving ${engines.map((e) => `${e.name} ${e.version}`).join(' and ')} from Maven Central (first run only; log: ${mavenLog})`);
    // The broker runs on the Kafka JDK; Maven itself runs on whatever `mvn` picks (17 is fine).
    const code = await runLogged('mvn', ['-B', '-ntp', '-f', path.join(work, 'pom.xml'), ...goals], mavenLog, { cwd: work });
    if (code !== 0) throw withLogTail(`mvn exited with ${code} while resolving the engines`, mavenLog);

    for (const eng of engines) {
      if (eng.name === 'kafka') {
        fs.renameSync(path.join(work, 'kafka'), eng.install); // atomic: a present install dir is complete
        continue;
      }
      const zip = fs.readdirSync(path.join(work, 'elasticsearch')).find((f) => f.endsWith('.zip'));
      if (!zip) throw withLogTail('mvn produced no Elasticsearch zip', mavenLog);
      const unpacked = path.join(work, 'unpacked');
      fs.mkdirSync(unpacked);
      await unzip(path.join(work, 'elasticsearch', zip), unpacked, mavenLog);
      const top = fs.readdirSync(unpacked);
      if (top.length !== 1) throw new Error(`unexpected layout of ${zip}: ${top.join(', ')}`);
      fs.renameSync(path.join(unpacked, top[0]), eng.install);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function unzip(zip, into, logFile) {
  if (run('sh', ['-c', 'command -v unzip']).status === 0) {
    const code = await runLogged('unzip', ['-q', zip, '-d', into], logFile);
    if (code !== 0) throw withLogTail(`unzip ${zip} failed`, logFile);
    return;
  }
  // No unzip: the JDK's jar tool extracts too, but drops the executable bits of bin/.
  const jar = path.join(findJdk(17, { forWhat: 'unpacking Elasticsearch' }), 'bin', 'jar');
  const code = await runLogged(jar, ['xf', zip], logFile, { cwd: into });
  if (code !== 0) throw withLogTail(`jar xf ${zip} failed`, logFile);
  for (const top of fs.readdirSync(into)) {
    const bin = path.join(into, top, 'bin');
    for (const f of fs.existsSync(bin) ? fs.readdirSync(bin) : []) fs.chmodSync(path.join(bin, f), 0o755);
  }
}

// ---------------------------------------------------------------------------------------------
// Per-engine preparation: config files, one-time formatting, the command line.

/** Data is test data: when the engine version changes, start from empty rather than migrate. */
function resetStateOnVersionChange(eng) {
  const prev = readJson(eng.stateFile);
  if (prev && prev.version !== eng.version) {
    say(`${eng.name} version changed (${prev.version} -> ${eng.version}): clearing ${eng.state}`);
    fs.rmSync(eng.state, { recursive: true, force: true });
  }
  mkdirOpen(eng.state);
}

function prepareKafka(eng) {
  const java = path.join(findJdk(ENGINES.kafka.javaMin, { explicitVar: 'TIDEWATCH_KAFKA_JAVA_HOME', forWhat: `Kafka ${eng.version}` }), 'bin', 'java');
  const { port, controllerPort } = eng.ports;
  const data = path.join(eng.state, 'data');
  const props = path.join(eng.state, 'server.properties');
  fs.writeFileSync(props, [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${data}`,
    'auto.create.topics.enable=true',
    'num.partitions=1',
    // One node: every internal topic must fit on it.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Fewer offsets partitions than the default 50: the first consumer group of a run waits for
    // all of them to be created and loaded.
    'offsets.topic.num.partitions=4',
    // Tests join and leave groups constantly; the default 3 s delay would slow every one of them.
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n'));

  const log4j = path.join(eng.state, 'log4j2.xml');
  // Everything to stdout, which start() sends to kafka.log; request/state-change chatter off.
  fs.writeFileSync(log4j, `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="out"/></Root>
  </Loggers>
</Configuration>
`);
  const classpath = path.join(eng.install, '*'); // expanded by the java launcher itself

  if (!fs.existsSync(path.join(data, 'meta.properties'))) {
    // Same shape as `StorageTool random-uuid`: 16 random bytes, base64url; Kafka rejects ids
    // that start with '-' (they read as a command-line flag), so draw again in that case.
    let clusterId;
    do clusterId = randomBytes(16).toString('base64url'); while (clusterId.startsWith('-'));
    say(`formatting Kafka storage (cluster id ${clusterId})`);
    const r = run(java, [`-Dlog4j2.configurationFile=${log4j}`, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props]);
    if (r.status !== 0) throw new Error(`formatting Kafka storage failed (${r.status}):\n${r.stdout}${r.stderr}`);
  }
  return {
    cmd: java,
    args: ['-Xms512m', '-Xmx1g', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4j}`, '-cp', classpath, 'kafka.Kafka', props],
    env: process.env,
  };
}

function ensureEsUser(name) {
  if (run('id', ['-u', name]).status !== 0) {
    say(`creating system user ${name} (Elasticsearch refuses to run as root)`);
    const r = run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
    if (r.status !== 0 && run('id', ['-u', name]).status !== 0) throw new Error(`useradd ${name} failed: ${r.stderr.trim()}`);
  }
  return {
    uid: Number(run('id', ['-u', name]).stdout.trim()),
    gid: Number(run('id', ['-g', name]).stdout.trim()),
  };
}

/** The Elasticsearch user must be able to walk down to its folders: /root (mode 700) won't do. */
function assertReachable(target, { uid, gid }, userName) {
  for (let p = target; ; p = path.dirname(p)) {
    const st = fs.statSync(p);
    const ok = st.uid === uid ? st.mode & 0o100 : st.gid === gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `Elasticsearch runs as user ${userName}, which cannot enter ${p} (mode ${(st.mode & 0o777).toString(8)}): ` +
          'set TIDEWATCH_SERVICES_DIR to a folder it can reach (default /var/tmp/tidewatch-services)',
      );
    }
    if (p === path.dirname(p)) return;
  }
}

function prepareElasticsearch(eng, cfg) {
  const javaHome = findJdk(ENGINES.elasticsearch.javaMin, { explicitVar: 'ES_JAVA_HOME', preferNewest: true, forWhat: `Elasticsearch ${eng.version}` });
  const conf = path.join(eng.state, 'config');
  const data = path.join(eng.state, 'data');
  const logs = path.join(eng.state, 'logs');
  const tmp = path.join(eng.state, 'tmp');
  for (const d of [data, logs, tmp]) fs.mkdirSync(d, { recursive: true });
  // A config folder of our own (ES_PATH_CONF): Elasticsearch writes its keystore there, and the
  // cached install stays read-only and shareable.
  fs.cpSync(path.join(eng.install, 'config'), conf, { recursive: true, force: true });
  fs.writeFileSync(path.join(conf, 'elasticsearch.yml'), [
    'cluster.name: tidewatch',
    'node.name: tidewatch-1',
    'discovery.type: single-node',
    'network.host: 127.0.0.1',
    `http.port: ${eng.ports.port}`,
    `transport.port: ${eng.ports.transportPort}`,
    `path.data: ${data}`,
    `path.logs: ${logs}`,
    'xpack.security.enabled: false',
    // A dev disk that fills past 90% would otherwise turn every index read-only mid-test.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    // Tests clean up with wildcard index deletes.
    'action.destructive_requires_name: false',
    '',
  ].join('\n'));

  const env = {
    ...process.env,
    ES_JAVA_HOME: javaHome,
    ES_PATH_CONF: conf,
    ES_JAVA_OPTS: '-Xms1g -Xmx1g',
    ES_TMPDIR: tmp,
    HOME: eng.state, // root's HOME is not readable by the Elasticsearch user
  };
  const bin = path.join(eng.install, 'bin', 'elasticsearch');
  if (process.getuid?.() !== 0) return { cmd: bin, args: [], env };

  const user = ensureEsUser(cfg.esUser);
  run('chown', ['-R', `${user.uid}:${user.gid}`, eng.state]);
  assertReachable(eng.install, user, cfg.esUser);
  assertReachable(eng.state, user, cfg.esUser);
  return {
    cmd: 'setpriv',
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', bin],
    env,
  };
}

// ---------------------------------------------------------------------------------------------
// Health probes. Kafka: a real admin round trip; Elasticsearch: cluster health (GET / answers
// 405 on the integ-test distribution, so client.info()/ping cannot be used).

async function probeKafka(brokers, { thorough }) {
  const { Kafka, logLevel } = await import('kafkajs');
  // The broker answers "coordinator loading" / connection refused while it starts; kafkajs would
  // log each as ERROR. The caller polls, so silence it and do not let it retry on its own.
  const kafka = new Kafka({
    clientId: 'tidewatch-services', brokers, logLevel: logLevel.NOTHING,
    connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (!thorough) {
      await admin.listTopics();
      return;
    }
    await admin.createTopics({ topics: [{ topic: PROBE_TOPIC, numPartitions: 1 }], waitForLeaders: true });
    // Touch the group coordinator so __consumer_offsets exists and is loaded before the first
    // test's consumer group: its "coordinator is loading" errors then never reach a test.
    await admin.fetchOffsets({ groupId: 'tidewatch-services-probe', topics: [PROBE_TOPIC] });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function probeElasticsearch(url) {
  const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(3000) });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200 || body.timed_out || body.status === 'red') {
    throw new Error(`cluster health: HTTP ${res.status}, status ${body.status ?? 'unknown'}`);
  }
}

const probe = (eng, endpoint, opts) =>
  eng.name === 'kafka' ? probeKafka(endpoint.brokers, opts) : probeElasticsearch(endpoint.url);

async function healthy(eng, endpoint) {
  try { await probe(eng, endpoint, { thorough: false }); return true; } catch { return false; }
}

async function waitReady(eng, endpoint, pid, timeoutMs) {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    // Checked twice, apart: a single look can land in the middle of an exec.
    if (runningPid(eng) !== pid && (await sleep(300), runningPid(eng) !== pid)) {
      throw withLogTail(`${eng.name} exited ${Math.round((Date.now() - started) / 1000)} s into its start`, eng.logFile);
    }
    try {
      await probe(eng, endpoint, { thorough: true });
      return;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(500);
  }
  throw withLogTail(
    `${eng.name} did not become ready within ${Math.round(timeoutMs / 1000)} s (last probe: ${last}); ` +
      'it is left running for inspection (TIDEWATCH_SERVICES_TIMEOUT_SECS raises the limit)',
    eng.logFile,
  );
}

// ---------------------------------------------------------------------------------------------
// Start / stop one engine (callers hold the lock).

async function startLocked(eng, cfg) {
  const pid = runningPid(eng);
  if (pid) {
    const st = readJson(eng.stateFile);
    if (st && JSON.stringify(st.ports) !== JSON.stringify(eng.ports)) {
      throw new Error(
        `${eng.name} is already running with ports ${JSON.stringify(st.ports)}, not ${JSON.stringify(eng.ports)}: ` +
          'run `node scripts/services.mjs down` first or use the running ports',
      );
    }
    const endpoint = endpointOf(eng.name, eng.ports);
    if (!(await healthy(eng, endpoint))) await waitReady(eng, endpoint, pid, cfg.timeoutMs);
    return endpoint;
  }

  for (const port of Object.values(eng.ports)) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} on 127.0.0.1 is taken by another process, not the ${eng.name} of ${cfg.dir}: ` +
          'stop it or choose other ports (TIDEWATCH_KAFKA_PORT / TIDEWATCH_KAFKA_CONTROLLER_PORT / TIDEWATCH_ES_PORT / TIDEWATCH_ES_TRANSPORT_PORT)',
      );
    }
  }

  resetStateOnVersionChange(eng);
  const spec = eng.name === 'kafka' ? prepareKafka(eng) : prepareElasticsearch(eng, cfg);
  rotate(eng.logFile);
  const out = fs.openSync(eng.logFile, 'a');
  let child;
  try {
    // detached: its own process group, so it outlives this process and stop() can signal the
    // whole group (Elasticsearch's launcher forks the server JVM).
    child = spawn(spec.cmd, spec.args, { cwd: eng.state, env: spec.env, detached: true, stdio: ['ignore', out, out] });
    await new Promise((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  } finally {
    fs.closeSync(out);
  }
  child.unref();
  fs.writeFileSync(eng.pidFile, `${child.pid}\n`);
  fs.writeFileSync(eng.stateFile, `${JSON.stringify({ version: eng.version, ports: eng.ports, pid: child.pid, startedAt: new Date().toISOString() })}\n`);
  say(`started ${eng.name} ${eng.version} (pid ${child.pid}, log ${eng.logFile})`);

  const endpoint = endpointOf(eng.name, eng.ports);
  const t0 = Date.now();
  await waitReady(eng, endpoint, child.pid, cfg.timeoutMs);
  say(`${eng.name} ready after ${((Date.now() - t0) / 1000).toFixed(1)} s at ${endpoint.url ?? endpoint.brokers.join(',')}`);
  return endpoint;
}

async function stopLocked(eng, { force = false, timeoutMs = STOP_TIMEOUT_MS } = {}) {
  const pid = runningPid(eng);
  if (!pid) {
    fs.rmSync(eng.pidFile, { force: true });
    return false;
  }
  const groupAlive = () => { try { process.kill(-pid, 0); return true; } catch { return false; } };
  const signalGroup = (sig) => { try { process.kill(-pid, sig); } catch { /* already gone */ } };
  signalGroup(force ? 'SIGKILL' : 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (groupAlive() && Date.now() < deadline) await sleep(200);
  if (groupAlive()) {
    say(`${eng.name} did not stop within ${timeoutMs / 1000} s: SIGKILL`);
    signalGroup('SIGKILL');
    const killDeadline = Date.now() + 10_000;
    while (groupAlive() && Date.now() < killDeadline) await sleep(100);
  }
  fs.rmSync(eng.pidFile, { force: true });
  say(`stopped ${eng.name} (pid ${pid})`);
  return true;
}

async function ensureInstalled(engines, cfg) {
  const missing = engines.filter((eng) => !installed(eng));
  if (missing.length) await resolveArtifacts(cfg, missing);
}

/** Fails before any download when the Elasticsearch user could not reach the services folder. */
function checkServicesDir(cfg) {
  mkdirOpen(cfg.dir);
  if (process.getuid?.() === 0) assertReachable(cfg.dir, ensureEsUser(cfg.esUser), cfg.esUser);
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Starts whatever is not running (idempotent) and waits until both engines answer. */
export async function up({ quiet = false } = {}) {
  quietMode = quiet;
  const cfg = config();
  const engines = NAMES.map((n) => engineOf(n, cfg));
  const result = (endpoints) => ({ kafka: endpoints[0], elasticsearch: endpoints[1], dir: cfg.dir });

  // Fast path without the lock: both ours, running and answering.
  const pids = engines.map(runningPid);
  if (pids.every(Boolean)) {
    const endpoints = engines.map((eng) => endpointOf(eng.name, eng.ports));
    const portsMatch = engines.every((eng) => JSON.stringify(readJson(eng.stateFile)?.ports) === JSON.stringify(eng.ports));
    if (portsMatch && (await Promise.all(engines.map((eng, i) => healthy(eng, endpoints[i])))).every(Boolean)) {
      return result(endpoints);
    }
  }

  return withLock(cfg, async () => {
    const t0 = Date.now();
    checkServicesDir(cfg);
    await ensureJdks(engines.filter((eng) => !runningPid(eng)));
    // Resolving is one mvn run for both; an engine already installed starts meanwhile.
    const missing = engines.filter((eng) => !installed(eng));
    const resolving = missing.length ? resolveArtifacts(cfg, missing) : Promise.resolve();
    const settled = await Promise.allSettled(engines.map(async (eng) => {
      if (missing.includes(eng)) await resolving;
      return startLocked(eng, cfg);
    }));
    const failures = settled.filter((s) => s.status === 'rejected').map((s) => s.reason?.message ?? String(s.reason));
    if (failures.length) throw new Error(`services up failed:\n${[...new Set(failures)].join('\n\n')}`);
    say(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s (services dir ${cfg.dir})`);
    return result(settled.map((s) => s.value));
  });
}

/** Stops both engines (SIGTERM, SIGKILL after 30 s). Caches and data stay. */
export async function down({ quiet = false } = {}) {
  quietMode = quiet;
  const cfg = config();
  await withLock(cfg, () => Promise.all(NAMES.map((n) => stopLocked(engineOf(n, cfg)))));
}

/** Starts one engine ('kafka' | 'elasticsearch') if it is not running; returns its endpoint. */
export async function start(name, { quiet = true } = {}) {
  quietMode = quiet;
  const cfg = config();
  const eng = engineOf(name, cfg);
  return withLock(cfg, async () => {
    if (name === 'elasticsearch') checkServicesDir(cfg);
    if (!runningPid(eng)) await ensureJdks([eng]);
    await ensureInstalled([eng], cfg);
    return startLocked(eng, cfg);
  });
}

/** Stops one engine; `force` sends SIGKILL at once (a crash rather than a shutdown). */
export async function stop(name, { quiet = true, force = false } = {}) {
  quietMode = quiet;
  const cfg = config();
  const eng = engineOf(name, cfg);
  return withLock(cfg, () => stopLocked(eng, { force }));
}

export async function restart(name, { quiet = true, force = false } = {}) {
  quietMode = quiet;
  const cfg = config();
  const eng = engineOf(name, cfg);
  return withLock(cfg, async () => {
    await stopLocked(eng, { force });
    if (name === 'elasticsearch') checkServicesDir(cfg);
    await ensureInstalled([eng], cfg);
    return startLocked(eng, cfg);
  });
}

/** What is running where; `healthy` means it answered a probe just now. */
export async function status() {
  const cfg = config();
  const report = { dir: cfg.dir };
  await Promise.all(NAMES.map(async (name) => {
    const eng = engineOf(name, cfg);
    const pid = runningPid(eng);
    const ports = (pid && readJson(eng.stateFile)?.ports) || eng.ports;
    const endpoint = endpointOf(name, ports);
    report[name] = {
      running: Boolean(pid),
      healthy: pid ? await healthy(eng, endpoint) : false,
      pid: pid ?? null,
      version: eng.version,
      installed: installed(eng),
      ...endpoint,
      log: eng.logFile,
    };
  }));
  return report;
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node scripts/services.mjs up|down|status|env
       node scripts/services.mjs start|stop|restart kafka|elasticsearch`;

async function main(argv) {
  const [cmd, name] = argv;
  switch (cmd) {
    case 'up': {
      const e = await up({ quiet: false });
      process.stdout.write(`kafka          ${e.kafka.brokers.join(',')}\nelasticsearch  ${e.elasticsearch.url}\ndir            ${e.dir}\n`);
      return 0;
    }
    case 'down':
      await down({ quiet: false });
      return 0;
    case 'status': {
      const s = await status();
      for (const n of NAMES) {
        const r = s[n];
        const state = r.running ? (r.healthy ? 'running' : 'running, not answering') : 'stopped';
        process.stdout.write(`${n.padEnd(14)} ${state.padEnd(24)} ${(r.url ?? r.brokers.join(',')).padEnd(24)} ${r.version}  pid ${r.pid ?? '-'}  log ${r.log}\n`);
      }
      process.stdout.write(`dir            ${s.dir}\n`);
      return NAMES.every((n) => s[n].healthy) ? 0 : 1;
    }
    case 'env': {
      // For `eval "$(node scripts/services.mjs env)"`: the running engines' addresses for the
      // tests and for the tidewatch config. Starts nothing.
      const s = await status();
      const brokers = s.kafka.brokers.join(',');
      process.stdout.write([
        `export TIDEWATCH_TEST_KAFKA_BROKERS=${brokers}`,
        `export TIDEWATCH_TEST_ELASTICSEARCH_URL=${s.elasticsearch.url}`,
        `export TIDEWATCH_SERVICES_DIR=${s.dir}`,
        `export KAFKA_BROKERS=${brokers}`,
        `export ELASTICSEARCH_URL=${s.elasticsearch.url}`,
        '',
      ].join('\n'));
      return 0;
    }
    case 'start':
    case 'stop':
    case 'restart': {
      if (!name) break;
      const fn = { start, stop, restart }[cmd];
      const r = await fn(name, { quiet: false });
      if (r && typeof r === 'object') process.stdout.write(`${r.url ?? r.brokers.join(',')}\n`);
      return 0;
    }
    default:
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`services: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
