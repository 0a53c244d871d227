import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Finding } from '../../pipeline/analytics/types.ts';
import { emptyAlertState, evaluateRule, stateFromAlerts, type AlertState } from './evaluate.ts';
import { parseRules, ruleSchema, type RuleInput } from './rules.ts';

interface Step {
  at: string;
  findings: string[];
  throttled?: number;
  expect: { id: string; state: 'firing' | 'resolved'; send: boolean; message?: string }[];
}
interface Scenario {
  name: string;
  rule: RuleInput;
  /** The display zone messages read their times in; UTC when absent. */
  display?: string;
  restartAfterStep?: number;
  steps: Step[];
}

const data = JSON.parse(readFileSync(new URL('testdata/scenarios.json', import.meta.url), 'utf8')) as { scenarios: Scenario[]; findings: Record<string, Finding> };
const SINKS = ['log', 'webhook:ops'];

for (const sc of data.scenarios) {
  test(`rules: ${sc.name}`, () => {
    const rule = ruleSchema.parse(sc.rule);
    let state: AlertState = emptyAlertState();
    sc.steps.forEach((step, i) => {
      const findings = step.findings.map((name) => data.findings[name]!);
      const ev = evaluateRule(rule, findings, state, Date.parse(step.at), SINKS, { timezone: sc.display ?? 'UTC' });
      // Only messages are for people: the record's own times stay ISO 8601 whatever the zone.
      for (const a of ev.changed) for (const t of [a.firedAt, a.updatedAt, a.resolvedAt ?? a.firedAt]) assert.match(t, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const got = ev.changed.map((a) => ({
        id: a.id,
        state: a.state,
        send: a.deliveries.length === SINKS.length && a.deliveries.every((d) => d.status === 'pending' && d.at === new Date(Date.parse(step.at)).toISOString()),
        ...(step.expect.find((e) => e.id === a.id)?.message !== undefined ? { message: a.message } : {}),
      }));
      assert.deepEqual(got, step.expect, `step ${i} at ${step.at}`);
      assert.equal(ev.throttled, step.throttled ?? 0, `step ${i}: throttled`);
      // Pure: the input state is never modified.
      assert.notEqual(ev.state, state);
      state = ev.state;
      // Sinks report back: every pending delivery delivered.
      for (const a of ev.changed) state.alerts[a.id] = { ...a, deliveries: a.deliveries.map((d) => ({ ...d, status: 'delivered' })) };
      if (sc.restartAfterStep === i) state = stateFromAlerts(JSON.parse(JSON.stringify(Object.values(state.alerts))));
    });
  });
}

test('rules: the state passed in is left as it was', () => {
  const rule = ruleSchema.parse({ name: 'silence', kind: 'silence' });
  const state = emptyAlertState();
  const frozen = JSON.stringify(state);
  evaluateRule(rule, [data.findings['gap-nashir-open-7h']!], state, Date.parse('2017-11-22T16:00:00Z'), SINKS);
  assert.equal(JSON.stringify(state), frozen);
});

test('rules file: defaults filled in, every problem named with its path', () => {
  const [r] = parseRules({ rules: [{ name: 'quiet', kind: 'silence' }] }, 'test');
  assert.equal(r!.schedule, '* * * * *');
  assert.deepEqual(r!.throttle, { maxAlerts: 20, perMinutes: 60 });
  assert.throws(
    () => parseRules({ rules: [{ name: 'x', kind: 'silence', schedule: 'every minute', minHourz: 3 }, { name: 'x', kind: 'spike' }] }, 'test'),
    (err: Error) => /rules\.0\.schedule: must be a cron expression/.test(err.message) && /minHourz/.test(err.message) && /unique/.test(err.message),
  );
});
