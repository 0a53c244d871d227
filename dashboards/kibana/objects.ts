import { BUNDLED_CATALOGUE, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import { col, dashboard, dataView, kql, metric, table, xy, type SavedObject } from './lens.ts';

/**
 * tidewatch's Kibana saved objects: one data view per index family (activity, and each findings
 * index of pipeline/store/elasticsearch/findings.ts), the Lens visualizations and the five
 * dashboards. Built from the index prefix, so a deployment with ELASTICSEARCH_INDEX_PREFIX gets
 * objects of its own; tidewatch.ndjson in this folder is the default-prefix copy for manual import.
 */

/**
 * The host of every link (after `@` for xmpp:room@server URIs, without port and "www."), as a
 * runtime field: the activity mapping keeps links as written, and analysts rank domains.
 */
export const LINK_DOMAIN_SCRIPT = `
for (def l : doc['links']) {
  String s = l.toLowerCase();
  int i = s.indexOf('://');
  if (i >= 0) { s = s.substring(i + 3); } else { int c = s.indexOf(':'); if (c >= 0) { s = s.substring(c + 1); } }
  int end = s.length();
  for (def sep : ['/', '?', '#']) { int j = s.indexOf(sep); if (j >= 0 && j < end) { end = j; } }
  s = s.substring(0, end);
  int at = s.lastIndexOf('@');
  if (at >= 0) { s = s.substring(at + 1); }
  int colon = s.indexOf(':');
  if (colon >= 0) { s = s.substring(0, colon); }
  if (s.startsWith('www.')) { s = s.substring(4); }
  if (s.length() > 0) { emit(s); }
}`.trim();

/** KQL matching links to one platform of the catalogue, by its domains and URI schemes. */
function platformQuery(p: PlatformCatalogue[number]): string {
  return [...p.domains.map((d) => `links : *${d}*`), ...p.schemes.map((s) => `links : ${s}\\:*`)].join(' or ');
}

export function savedObjects(prefix: string, catalogue: PlatformCatalogue = BUNDLED_CATALOGUE): SavedObject[] {
  const id = (name: string) => `${prefix}-${name}`;
  const dv = {
    activity: dataView(id('activity'), 'tidewatch activity', `${prefix}-activity-*`, { 'link.domain': { type: 'keyword', script: { source: LINK_DOMAIN_SCRIPT } } }),
    gaps: dataView(id('gaps'), 'tidewatch silence gaps', `${prefix}-gaps`),
    spikes: dataView(id('spikes'), 'tidewatch spikes', `${prefix}-spikes`),
    migrations: dataView(id('migrations'), 'tidewatch migrations and link days', `${prefix}-migrations`),
    lifecycle: dataView(id('lifecycle'), 'tidewatch takedowns, resurrections, lifespans', `${prefix}-lifecycle`),
    alerts: dataView(id('alerts'), 'tidewatch alerts', `${prefix}-alerts`),
  };

  // Overview
  const activityByNetwork = xy({
    id: id('activity-by-network'), title: 'Activity by network', description: 'Events per interval, stacked by channel network',
    dataViewId: dv.activity.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 's',
    columns: { x: col.dateHistogram(), s: col.terms('channel.network', 'Network', 10, 'n'), n: col.count('Events') },
  });
  const activityByLanguage = xy({
    id: id('activity-by-language'), title: 'Activity by language', description: 'Events per interval, stacked by channel language',
    dataViewId: dv.activity.id, series: 'area_stacked', x: 'x', y: ['n'], split: 's',
    columns: { x: col.dateHistogram(), s: col.terms('channel.language', 'Language', 12, 'n'), n: col.count('Events') },
  });
  const channelsSeen = metric({
    id: id('channels-seen'), title: 'Channels seen', description: 'Distinct channels with events in the time range',
    dataViewId: dv.activity.id, value: 'v', columns: { v: col.metric('unique_count', 'channel.id', 'Channels seen') },
  });
  const channelsActive = metric({
    id: id('channels-active'), title: 'Channels active now', description: 'Distinct channels that posted in the last 24 hours of the range; the rest are silent',
    dataViewId: dv.activity.id, value: 'v',
    columns: { v: col.metric('unique_count', 'channel.id', 'Posted in the last 24 h', { filter: kql('event.action : "post"'), reducedTimeRange: '24h' }) },
  });
  const channelsTable = table({
    id: id('channels'), title: 'Channels', description: 'Channels by events, with their latest title and last post',
    dataViewId: dv.activity.id, sortBy: 'n',
    columns: {
      h: col.terms('channel.id', 'Channel id', 100, 'n'),
      handle: col.lastValue('channel.handle', 'Handle'),
      title: col.lastValue('channel.title.keyword', 'Title'),
      net: col.lastValue('channel.network', 'Network'),
      n: col.count('Events'),
      last: col.metric('max', '@timestamp', 'Last post', { date: true, filter: kql('event.action : "post"') }),
    },
  });
  const latestAlerts = table({
    id: id('latest-alerts'), title: 'Latest alerts', description: 'Most recent alerts, firing and resolved',
    dataViewId: dv.alerts.id, sortBy: 'fired',
    columns: {
      a: col.terms('id', 'Alert', 20, 'fired'),
      fired: col.metric('max', 'firedAt', 'Fired', { date: true }),
      sev: col.lastValue('severity', 'Severity'),
      state: col.lastValue('state', 'State'),
      msg: col.lastValue('message.keyword', 'Message'),
    },
  });

  // Silence gaps
  const activityWithGaps = xy({
    id: id('activity-with-gaps'), title: 'Activity with silence gaps marked', description: 'Events per interval; markers at the start of network-wide gaps',
    dataViewId: dv.activity.id, series: 'bar', x: 'x', y: ['n'],
    columns: { x: col.dateHistogram(), n: col.count('Events') },
    annotations: [{ id: 'gaps', label: 'Gap', dataViewId: dv.gaps.id, query: kql('scope : "network"'), timeField: 'start', textField: 'subject', extraFields: ['hours', 'unprecedented'], color: '#E7664C' }],
  });
  const gapColumns = () => ({
    g: col.terms('id', 'Gap', 100, 'hours'),
    subject: col.lastValue('subject', 'Subject'),
    scope: col.lastValue('scope', 'Scope'),
    start: col.metric('min', 'start', 'Start', { date: true }),
    hours: col.metric('max', 'hours', 'Hours'),
    base: col.metric('max', 'baselineHours', 'Usual max (h)'),
    prev: col.metric('max', 'previousLongestHours', 'Longest before (h)'),
  });
  const unprecedentedGaps = table({
    id: id('gaps-unprecedented'), title: 'Unprecedented gaps', description: 'Silences longer than any earlier one of their subject, longest first',
    dataViewId: dv.gaps.id, sortBy: 'hours', query: kql('unprecedented : true'), columns: gapColumns(),
  });
  const gapsByDuration = table({
    id: id('gaps-by-duration'), title: 'Gaps by duration', description: 'Every silence gap, longest first',
    dataViewId: dv.gaps.id, sortBy: 'hours', columns: gapColumns(),
  });
  const openGaps = table({
    id: id('gaps-open'), title: 'Open gaps now', description: 'Subjects silent right now, longest first',
    dataViewId: dv.gaps.id, sortBy: 'hours', query: kql('not end : *'), columns: gapColumns(),
  });

  // Platform migration
  const offPlatformShare = xy({
    id: id('off-platform-share'), title: 'Off-platform link share', description: 'Share of links pointing off the home platform, per day',
    dataViewId: dv.migrations.id, series: 'line', x: 'x', y: ['share'], query: kql('type : "link_day"'),
    columns: { x: col.dateHistogram('day'), share: col.metric('average', 'offPlatformShare', 'Off-platform share') },
  });
  const messengers = catalogue.filter((p) => p.kind === 'messenger' && (p.domains.length || p.schemes.length));
  const linksByPlatform = xy({
    id: id('links-by-platform'), title: 'Links by target platform', description: 'Events linking to each messenger of the platform catalogue',
    dataViewId: dv.activity.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 'p', query: kql('links : *'),
    columns: { x: col.dateHistogram(), p: col.filters('Platform', messengers.map((p) => ({ label: p.name, query: platformQuery(p) }))), n: col.count('Events with links') },
  });
  const firstAppearances = table({
    id: id('first-appearances'), title: 'First appearances of platforms', description: 'When each platform was first linked, and by whom',
    dataViewId: dv.migrations.id, sortBy: 'at', direction: 'asc', query: kql('type : "migration" and kind : "first_seen"'),
    columns: {
      p: col.terms('platform', 'Platform', 50, 'at'),
      at: col.metric('min', 'at', 'First seen', { date: true }),
      subject: col.lastValue('subject', 'Subject'),
      scope: col.lastValue('scope', 'Scope'),
    },
  });
  const migrationSurges = table({
    id: id('migration-surges'), title: 'Migration surges', description: 'Days a platform took a much larger share of links than usual',
    dataViewId: dv.migrations.id, sortBy: 'share', query: kql('type : "migration" and kind : "surge"'),
    columns: {
      m: col.terms('id', 'Surge', 50, 'share'),
      p: col.lastValue('platform', 'Platform'),
      at: col.metric('min', 'at', 'Day', { date: true }),
      share: col.metric('max', 'share', 'Share'),
      usual: col.metric('max', 'usualShare', 'Usual share'),
    },
  });
  const topDomains = table({
    id: id('top-domains'), title: 'Top outlink domains', description: 'Domains linked most often',
    dataViewId: dv.activity.id, sortBy: 'n',
    columns: { d: col.terms('link.domain', 'Domain', 25, 'n'), n: col.count('Events') },
  });

  // Takedowns & resurrections
  const bansPerDay = xy({
    id: id('bans-per-day'), title: 'Bans per day by language', description: 'channel_banned events per day, stacked by language',
    dataViewId: dv.activity.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 's', query: kql('event.action : "channel_banned"'),
    columns: { x: col.dateHistogram('@timestamp', '1d', 'Day'), s: col.terms('channel.language', 'Language', 15, 'n'), n: col.count('Channels banned') },
  });
  const bansReported = xy({
    id: id('bans-reported'), title: 'Bans reported by the platform', description: 'The platform’s own daily tally (bans_reported events)',
    dataViewId: dv.activity.id, series: 'bar', x: 'x', y: ['n'], query: kql('event.action : "bans_reported"'),
    columns: { x: col.dateHistogram('@timestamp', '1d', 'Day'), n: col.metric('max', 'count', 'Reported bans') },
  });
  const takedownWaves = table({
    id: id('takedown-waves'), title: 'Takedown waves', description: 'Days with many channels banned',
    // Every ban day is a finding; the waves are the ones marked (documents from before `wave` existed were all waves).
    dataViewId: dv.lifecycle.id, sortBy: 'ch', query: kql('type : "takedown" and not wave : false'),
    columns: {
      d: col.terms('id', 'Wave', 50, 'ch'),
      day: col.metric('min', 'day', 'Day', { date: true }),
      ch: col.metric('max', 'channels', 'Channels'),
      lang: col.metric('max', 'languages', 'Languages'),
      rep: col.metric('max', 'reported', 'Reported'),
      // The whole list (at most 1,000 names; `channels` stays the exact count).
      names: col.lastValue('subjects', 'Channels banned'),
    },
  });
  const resurrections = table({
    id: id('resurrections'), title: 'Resurrections', description: 'Successors of banned channels: delay, minutes to 1,000 subscribers, regrowth',
    dataViewId: dv.lifecycle.id, sortBy: 'created', direction: 'asc', query: kql('type : "resurrection"'),
    columns: {
      r: col.terms('id', 'Resurrection', 100, 'created'),
      banned: col.lastValue('banned', 'Banned'),
      successor: col.lastValue('successor', 'Successor'),
      created: col.metric('min', 'createdAt', 'Successor created', { date: true }),
      delay: col.metric('max', 'delayMinutes', 'Delay (min)'),
      to1000: col.metric('max', 'minutesTo1000', 'Minutes to 1,000'),
      regained: col.metric('max', 'regainedShare', 'Regained share'),
    },
  });
  const lifespans = xy({
    id: id('lifespans'), title: 'Channel lifespans', description: 'Channels by days from creation to ban or deletion',
    dataViewId: dv.lifecycle.id, series: 'bar', x: 'd', y: ['n'], query: kql('type : "lifespan"'),
    columns: { d: col.histogram('days', 'Days alive'), n: col.count('Channels') },
  });

  // Spikes & alerts
  const spikesChart = xy({
    id: id('spikes-expected-observed'), title: 'Spikes: observed vs expected', description: 'Events in spiking hours against what the subject’s rhythm predicts',
    dataViewId: dv.spikes.id, series: 'bar', x: 'x', y: ['obs', 'exp'],
    columns: { x: col.dateHistogram(), obs: col.metric('sum', 'count', 'Observed'), exp: col.metric('sum', 'expected', 'Expected') },
  });
  const spikesTable = table({
    id: id('spikes'), title: 'Spikes', description: 'Every spike, largest over its expectation first',
    dataViewId: dv.spikes.id, sortBy: 'obs',
    columns: {
      s: col.terms('id', 'Spike', 100, 'obs'),
      subject: col.lastValue('subject', 'Subject'),
      scope: col.lastValue('scope', 'Scope'),
      start: col.metric('min', 'start', 'Start', { date: true }),
      obs: col.metric('max', 'count', 'Observed'),
      exp: col.metric('max', 'expected', 'Expected'),
      p: col.metric('min', 'pValue', 'p-value'),
    },
  });
  const alertsOverTime = xy({
    id: id('alerts-over-time'), title: 'Alerts over time', description: 'Alerts fired per interval, by severity',
    dataViewId: dv.alerts.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 's',
    columns: { x: col.dateHistogram(), s: col.terms('severity', 'Severity', 3, 'n'), n: col.count('Alerts') },
  });
  const alertHistory = table({
    id: id('alert-history'), title: 'Alert history', description: 'Every alert with its rule, state and delivery',
    dataViewId: dv.alerts.id, sortBy: 'fired',
    columns: {
      a: col.terms('id', 'Alert', 500, 'fired'),
      rule: col.lastValue('rule', 'Rule'),
      sev: col.lastValue('severity', 'Severity'),
      state: col.lastValue('state', 'State'),
      subject: col.lastValue('subject', 'Subject'),
      msg: col.lastValue('message.keyword', 'Message'),
      fired: col.metric('max', 'firedAt', 'Fired', { date: true }),
      resolved: col.metric('max', 'resolvedAt', 'Resolved', { date: true }),
    },
  });

  const full = 48;
  const half = 24;
  const dashboards = [
    dashboard(id('overview'), 'tidewatch: Overview', 'Activity over time per network and language, active vs silent channels, latest alerts', [
      [{ panel: activityByNetwork, w: 32, h: 14 }, { panel: channelsSeen, w: 8, h: 7 }, { panel: channelsActive, w: 8, h: 7 }],
      [{ panel: activityByLanguage, w: half, h: 14 }, { panel: latestAlerts, w: half, h: 14 }],
      [{ panel: channelsTable, w: full, h: 16 }],
    ]),
    dashboard(id('silence-gaps'), 'tidewatch: Silence gaps', 'Activity with gaps marked, gaps by duration with the unprecedented ones first, open gaps', [
      [{ panel: activityWithGaps, w: full, h: 14 }],
      [{ panel: unprecedentedGaps, w: half, h: 14 }, { panel: openGaps, w: half, h: 14 }],
      [{ panel: gapsByDuration, w: full, h: 16 }],
    ]),
    dashboard(id('platform-migration'), 'tidewatch: Platform migration', 'Off-platform link share, links by target platform, first appearances, top outlink domains', [
      [{ panel: offPlatformShare, w: half, h: 14 }, { panel: linksByPlatform, w: half, h: 14 }],
      [{ panel: firstAppearances, w: 16, h: 14 }, { panel: migrationSurges, w: 16, h: 14 }, { panel: topDomains, w: 16, h: 14 }],
    ]),
    dashboard(id('takedowns'), 'tidewatch: Takedowns & resurrections', 'Bans per day and language, successors with delay and regrowth, channel lifespans', [
      [{ panel: bansPerDay, w: half, h: 14 }, { panel: bansReported, w: half, h: 14 }],
      [{ panel: takedownWaves, w: 16, h: 14 }, { panel: resurrections, w: 32, h: 14 }],
      [{ panel: lifespans, w: full, h: 12 }],
    ]),
    dashboard(id('spikes-alerts'), 'tidewatch: Spikes & alerts', 'Spikes with expected vs observed, alert history', [
      [{ panel: spikesChart, w: half, h: 14 }, { panel: alertsOverTime, w: half, h: 14 }],
      [{ panel: spikesTable, w: full, h: 14 }],
      [{ panel: alertHistory, w: full, h: 16 }],
    ]),
  ];

  const visualizations = [
    activityByNetwork, activityByLanguage, channelsSeen, channelsActive, channelsTable, latestAlerts,
    activityWithGaps, unprecedentedGaps, gapsByDuration, openGaps,
    offPlatformShare, linksByPlatform, firstAppearances, migrationSurges, topDomains,
    bansPerDay, bansReported, takedownWaves, resurrections, lifespans,
    spikesChart, spikesTable, alertsOverTime, alertHistory,
  ];
  return [...Object.values(dv), ...visualizations, ...dashboards];
}

/** The import file: referenced objects before the objects that reference them. */
export function savedObjectsNdjson(prefix: string): string {
  return `${savedObjects(prefix).map((o) => JSON.stringify(o)).join('\n')}\n`;
}
