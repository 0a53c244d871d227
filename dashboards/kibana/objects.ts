import { BUNDLED_CATALOGUE, type PlatformCatalogue } from '../../pipeline/analytics/links.ts';
import { col, dashboard, dataView, kql, metric, table, xy, type SavedObject } from './lens.ts';
import { dashboardTime, type DashboardTime } from './time.ts';

/**
 * tidewatch's Kibana saved objects: one data view per index family (activity, and each findings
 * index of pipeline/store/elasticsearch/findings.ts), the Lens visualizations and the five
 * dashboards. Built from the index prefix, so a deployment with ELASTICSEARCH_INDEX_PREFIX gets
 * objects of its own; tidewatch.ndjson in this folder is the default-prefix copy for manual import.
 */

/** KQL of one platform of the catalogue: the indexer writes `link.platform` (linkFields()). */
function platformQuery(p: PlatformCatalogue[number]): string {
  return `link.platform : "${p.id}"`;
}

export interface SavedObjectsOptions {
  /** The platform catalogue the indexer classifies links with (loadCatalogue()). */
  catalogue?: PlatformCatalogue;
  /** The saved time range; `tidewatch setup` fits it to the data (dashboardTime()). */
  time?: DashboardTime;
}

/** Without data: the range and interval `dashboardTime(null)` gives. */
const DEFAULT_TIME = dashboardTime(null, 0);

export function savedObjects(prefix: string, options: SavedObjectsOptions = {}): SavedObject[] {
  const catalogue = options.catalogue ?? BUNDLED_CATALOGUE;
  const time = options.time ?? DEFAULT_TIME;
  const id = (name: string) => `${prefix}-${name}`;
  const dv = {
    activity: dataView(id('activity'), 'tidewatch activity', `${prefix}-activity-*`),
    gaps: dataView(id('gaps'), 'tidewatch silence gaps', `${prefix}-gaps`),
    spikes: dataView(id('spikes'), 'tidewatch spikes', `${prefix}-spikes`),
    migrations: dataView(id('migrations'), 'tidewatch migrations and link days', `${prefix}-migrations`),
    lifecycle: dataView(id('lifecycle'), 'tidewatch takedowns, resurrections, lifespans', `${prefix}-lifecycle`),
    alerts: dataView(id('alerts'), 'tidewatch alerts', `${prefix}-alerts`),
    // One document per channel, its current status: whatever the time picker says, it is "now".
    status: dataView(id('status'), 'tidewatch watch-list status', `${prefix}-status`, { timeField: null }),
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
  // The one status model (the analyzer's watch-list status), as on the built-in dashboard and in `tidewatch status`.
  const channelsNow = table({
    id: id('channels-now'), title: 'Channels now', description: 'Channels by their current status: active, quiet, silent, gone, unknown, muted, retired',
    dataViewId: dv.status.id, sortBy: 'n',
    columns: { s: col.terms('status', 'Status', 7, 'n'), n: col.count('Channels') },
  });
  const watchListStatus = table({
    id: id('watch-list-status'), title: 'Watch-list status', description: 'Each watched channel: its status, since when, and why',
    dataViewId: dv.status.id, sortBy: 'h', direction: 'asc', query: kql('watched : true'),
    columns: {
      h: col.terms('subject', 'Channel', 500),
      net: col.lastValue('network', 'Network'),
      st: col.lastValue('status', 'Status'),
      since: col.metric('max', 'since', 'Since', { date: true }),
      why: col.lastValue('reason.keyword', 'Reason'),
    },
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
  // Per-day panels: the interval fitted to the saved range (dashboardTime()); wider than a day
  // over long ranges, so the values stay per day (normalised counts, means of daily values).
  const perDay = time.dayInterval === '1d';
  const offPlatformShare = xy({
    id: id('off-platform-share'), title: 'Off-platform link share per day',
    description: perDay ? 'Share of links pointing off the home platform, each day' : `Share of links pointing off the home platform: the mean of the days of each ${time.bucketName.toLowerCase()}`,
    dataViewId: dv.migrations.id, series: 'line', x: 'x', y: ['share'], query: kql('type : "link_day"'),
    columns: { x: col.dateHistogram('day', time.dayInterval, time.bucketName), share: col.metric('average', 'offPlatformShare', perDay ? 'Off-platform share' : 'Off-platform share (daily mean)') },
  });
  const messengers = catalogue.filter((p) => p.kind === 'messenger');
  const linksByPlatform = xy({
    id: id('links-by-platform'), title: 'Links by target platform', description: 'Events linking to each messenger of the platform catalogue',
    dataViewId: dv.activity.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 'p', query: kql('link.platform : *'),
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
    id: id('bans-per-day'), title: 'Bans per day by language',
    description: perDay ? 'channel_banned events per day, stacked by language' : `channel_banned events per day (the mean of each ${time.bucketName.toLowerCase()}), stacked by language`,
    dataViewId: dv.activity.id, series: 'bar_stacked', x: 'x', y: ['n'], split: 's', query: kql('event.action : "channel_banned"'),
    columns: { x: col.dateHistogram('@timestamp', time.dayInterval, time.bucketName), s: col.terms('channel.language', 'Language', 15, 'n'), n: col.count('Channels banned per day', { perDay: true }) },
  });
  const bansReported = xy({
    id: id('bans-reported'), title: 'Bans reported by the platform per day',
    description: perDay ? 'The platform’s own daily tally (bans_reported events)' : `The platform’s own daily tally (bans_reported events): the largest of each ${time.bucketName.toLowerCase()}`,
    dataViewId: dv.activity.id, series: 'bar', x: 'x', y: ['n'], query: kql('event.action : "bans_reported"'),
    // The largest report of a day is its tally (the takedowns detector's rule), never a sum.
    columns: { x: col.dateHistogram('@timestamp', time.dayInterval, time.bucketName), n: col.metric('max', 'count', perDay ? 'Reported bans' : 'Largest daily tally') },
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
    id: id('spikes-table'), title: 'Spikes', description: 'Every spike, largest over its expectation first',
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
    dashboard(id('overview'), 'tidewatch: Overview', 'Activity over time per network and language, channels by watch-list status, latest alerts', [
      [{ panel: activityByNetwork, w: 32, h: 14 }, { panel: channelsSeen, w: 8, h: 7 }, { panel: channelsNow, w: 8, h: 14 }],
      [{ panel: activityByLanguage, w: half, h: 14 }, { panel: latestAlerts, w: half, h: 14 }],
      [{ panel: channelsTable, w: full, h: 16 }],
      [{ panel: watchListStatus, w: full, h: 16 }],
    ], time),
    dashboard(id('silence-gaps'), 'tidewatch: Silence gaps', 'Activity with gaps marked, gaps by duration with the unprecedented ones first, open gaps', [
      [{ panel: activityWithGaps, w: full, h: 14 }],
      [{ panel: unprecedentedGaps, w: half, h: 14 }, { panel: openGaps, w: half, h: 14 }],
      [{ panel: gapsByDuration, w: full, h: 16 }],
    ], time),
    dashboard(id('platform-migration'), 'tidewatch: Platform migration', 'Off-platform link share, links by target platform, first appearances, top outlink domains', [
      [{ panel: offPlatformShare, w: half, h: 14 }, { panel: linksByPlatform, w: half, h: 14 }],
      [{ panel: firstAppearances, w: 16, h: 14 }, { panel: migrationSurges, w: 16, h: 14 }, { panel: topDomains, w: 16, h: 14 }],
    ], time),
    dashboard(id('takedowns'), 'tidewatch: Takedowns & resurrections', 'Bans per day and language, successors with delay and regrowth, channel lifespans', [
      [{ panel: bansPerDay, w: half, h: 14 }, { panel: bansReported, w: half, h: 14 }],
      [{ panel: takedownWaves, w: 16, h: 14 }, { panel: resurrections, w: 32, h: 14 }],
      [{ panel: lifespans, w: full, h: 12 }],
    ], time),
    dashboard(id('spikes-alerts'), 'tidewatch: Spikes & alerts', 'Spikes with expected vs observed, alert history', [
      [{ panel: spikesChart, w: half, h: 14 }, { panel: alertsOverTime, w: half, h: 14 }],
      [{ panel: spikesTable, w: full, h: 14 }],
      [{ panel: alertHistory, w: full, h: 16 }],
    ], time),
  ];

  const visualizations = [
    activityByNetwork, activityByLanguage, channelsSeen, channelsNow, channelsTable, latestAlerts, watchListStatus,
    activityWithGaps, unprecedentedGaps, gapsByDuration, openGaps,
    offPlatformShare, linksByPlatform, firstAppearances, migrationSurges, topDomains,
    bansPerDay, bansReported, takedownWaves, resurrections, lifespans,
    spikesChart, spikesTable, alertsOverTime, alertHistory,
  ];
  return [...Object.values(dv), ...visualizations, ...dashboards];
}

/** The import file: one object a line, in savedObjects()' order (referenced objects first). */
export function toNdjson(objects: readonly SavedObject[]): string {
  return `${objects.map((o) => JSON.stringify(o)).join('\n')}\n`;
}

export function savedObjectsNdjson(prefix: string, options: SavedObjectsOptions = {}): string {
  return toNdjson(savedObjects(prefix, options));
}
