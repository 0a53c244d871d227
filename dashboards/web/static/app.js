// The built-in dashboard. Every channel title, handle, link and domain comes from the channels
// themselves, i.e. from whoever runs them: this script only ever puts data into the page as text
// (textContent, option text, ECharts canvas text). No innerHTML, no HTML tooltips.
'use strict';

(function main() {
  const embedded = document.getElementById('tidewatch-data');
  /** Report mode: the data of every view is inlined by `tidewatch report`; there is no server. */
  const REPORT = embedded ? JSON.parse(embedded.textContent) : null;
  const VIEWS = ['overview', 'gaps', 'migration', 'takedowns', 'spikes'];
  const LIVE_MS = 5000;
  const state = { view: 'overview', seq: 0, data: null };
  const $ = (id) => document.getElementById(id);

  // ---- formatting -------------------------------------------------------------------------
  /**
   * Times read in the team's display zone (config `display.timezone`, sent with the report's data
   * and /api/meta) as "2017-11-22 11:49 Asia/Baghdad": sortable, and named like the alerts' zone.
   * Days (fmtDay) and the charts' axes stay UTC, the analytics' own days.
   */
  let zone = 'UTC';
  let zoned = null;
  function setZone(timezone) {
    if (!timezone || (zoned && timezone === zone)) return;
    zone = timezone;
    zoned = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }
  setZone(REPORT && REPORT.display ? REPORT.display.timezone : 'UTC');
  function fmtTime(iso) {
    if (!iso) return '';
    const p = {};
    for (const part of zoned.formatToParts(Date.parse(iso))) p[part.type] = part.value;
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${zone}`;
  }
  const fmtDay = (iso) => (iso ? String(iso).slice(0, 10) : '');
  const fmtNum = (n, digits) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 1 : digits }));
  const fmtPct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
  /** A wave's first `max` channels, then how many more by the exact count (the finding's list is capped). */
  function fmtWaveChannels(w, max) {
    const shown = (w.subjects || []).slice(0, max);
    const more = w.channels - shown.length;
    return shown.length ? `${shown.join(', ')}${more > 0 ? ` … and ${more} more` : ''}` : '';
  }

  // ---- DOM helpers: text only ----------------------------------------------------------------
  function node(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  /**
   * columns: [{ title, value(row) -> string|number|null, kind: 'text'|'num'|'badge', hint(row)? }].
   * Text columns get dir="auto" so an Arabic or Persian title reads right to left in its cell;
   * `hint` is the cell's tooltip (the title attribute: text, never HTML).
   */
  function renderTable(id, columns, rows, empty) {
    const box = $(id);
    box.replaceChildren();
    if (!rows.length) {
      box.append(node('p', empty || 'Nothing in this range.', 'empty'));
      return;
    }
    const table = node('table');
    const head = node('tr');
    for (const c of columns) head.append(node('th', c.title, c.kind === 'num' ? 'num' : ''));
    const thead = node('thead');
    thead.append(head);
    const tbody = node('tbody');
    for (const r of rows) {
      const tr = node('tr');
      for (const c of columns) {
        const v = c.value(r);
        const td = node('td', null, c.kind === 'num' ? 'num' : c.kind === 'text' ? 'text' : '');
        if (c.kind === 'badge') {
          if (v) td.append(node('span', v, `badge ${String(v).replace(/[^a-z]/g, '')}`));
        } else {
          td.textContent = v === null || v === undefined ? '' : String(v);
        }
        if (c.kind === 'text') td.dir = 'auto';
        if (c.hint) td.title = c.hint(r);
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(thead, tbody);
    box.append(table);
  }

  // ---- charts -----------------------------------------------------------------------------
  const PALETTE = ['#2b5fd9', '#e7664c', '#54b399', '#d6bf57', '#9170b8', '#ca8eae', '#6092c0', '#d36086', '#aa6556', '#b9a888', '#7b8594', '#4b9e9e', '#a0a0a0'];

  const EMPTY = { title: { text: 'Nothing in this range', left: 'center', top: 'middle', textStyle: { color: '#69707d', fontSize: 13 } } };

  function chart(id, option) {
    const el = $(id);
    const c = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: 'canvas' });
    // richText tooltips are drawn by ECharts itself, never parsed as HTML.
    const base = {
      useUTC: true,
      color: PALETTE,
      animation: false,
      tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
      grid: { left: 56, right: 24, top: 36, bottom: 56 },
    };
    // A legend at the top gets a row of its own, above the axis names drawn over the grid.
    if (option.legend && option.legend.bottom === undefined) base.grid = Object.assign({}, base.grid, { top: 64 });
    c.setOption(Object.assign(base, option), true);
    return c;
  }

  /**
   * A timeline from the API as stacked bars or areas; `markArea` decorates the first series,
   * `seriesExtra` is merged into every series.
   */
  function timeAxisChart(id, timeline, kind, extra, markArea, seriesExtra) {
    if (!timeline || !timeline.series.length) return chart(id, EMPTY);
    const series = timeline.series.map((s) => ({
      name: s.key,
      type: kind === 'area' ? 'line' : 'bar',
      stack: timeline.series.length > 1 ? 'all' : undefined,
      areaStyle: kind === 'area' ? {} : undefined,
      symbol: 'none',
      barCategoryGap: '10%',
      large: true,
      data: timeline.starts.map((t, i) => [t, s.events[i]]),
      ...(seriesExtra || {}),
    }));
    if (markArea && series.length) series[0].markArea = markArea;
    return chart(id, Object.assign({
      legend: { type: 'scroll', top: 0 },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', name: 'events' },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      series,
    }, extra || {}));
  }

  function resizeCharts() {
    for (const el of document.querySelectorAll('.chart')) {
      const c = echarts.getInstanceByDom(el);
      if (c) c.resize();
    }
  }

  // ---- views ------------------------------------------------------------------------------
  const channelName = (c) => c.handle || c.id;
  /** One colour per watch-list status, in the order the chart lists them. */
  const STATUS_COLORS = {
    active: '#1f8a4c', quiet: '#8fbf6a', silent: '#d6bf57', gone: '#8a2a22', unknown: '#9aa0a6', muted: '#6b7bb0', retired: '#4a4a4a',
  };

  const RENDER = {
    overview(d) {
      $('ov-now').textContent = d.now ? `as of ${fmtTime(d.now)}` : '';
      timeAxisChart('ov-network', d.byNetwork, 'bar');
      timeAxisChart('ov-language', d.byLanguage, 'area');
      // The watch-list statuses (the same as the channel table, the watch-list panel and `tidewatch status`).
      const statuses = Object.entries(STATUS_COLORS).filter(([s]) => d.statuses && d.statuses[s] > 0);
      chart('ov-status', {
        tooltip: { trigger: 'item', renderMode: 'richText' },
        legend: { bottom: 0 },
        color: statuses.map(([, color]) => color),
        series: [{
          type: 'pie', radius: ['45%', '70%'], label: { formatter: '{c}' },
          data: statuses.map(([s]) => ({ name: s, value: d.statuses[s] })),
        }],
      });
      renderTable('ov-alerts', [
        { title: 'Fired', value: (a) => fmtDay(a.firedAt) },
        { title: 'Severity', value: (a) => a.severity, kind: 'badge' },
        { title: 'Message', value: (a) => a.message, kind: 'text' },
      ], d.alerts, 'No alerts.');
      renderTable('ov-channels', [
        { title: 'Title', value: (c) => c.title, kind: 'text' },
        { title: 'Handle', value: (c) => c.handle, kind: 'text' },
        { title: 'Platform', value: (c) => c.platform },
        { title: 'Network', value: (c) => c.network, kind: 'text' },
        { title: 'Language', value: (c) => c.language },
        { title: 'Subscribers', value: (c) => fmtNum(c.subscribers, 0), kind: 'num' },
        { title: 'Events', value: (c) => fmtNum(c.events, 0), kind: 'num' },
        { title: 'Last post', value: (c) => fmtTime(c.lastPostAt) },
        { title: 'Status', value: (c) => c.status, kind: 'badge', hint: (c) => c.statusReason },
      ], d.channels, 'No channels in this range.');
      renderTable('ov-watchlist', [
        { title: 'Channel', value: (r) => r.subject, kind: 'text' },
        { title: 'Network', value: (r) => r.network, kind: 'text' },
        { title: 'Status', value: (r) => r.status, kind: 'badge' },
        { title: 'Since', value: (r) => fmtTime(r.since) },
        { title: 'Last activity', value: (r) => fmtTime(r.lastActivityAt) },
        { title: 'Reason', value: (r) => r.reason, kind: 'text' },
      ], d.watchList || [], 'No watch list status yet: the analyzer records it for the channels on the watch list.');
    },

    gaps(d) {
      const now = d.now ? Date.parse(d.now) : Date.now();
      // Only network-wide gaps are drawn: single channels fall quiet every day (they are in the
      // table). Networks silent at the same time share one area, so their labels do not overlap.
      const marked = d.gaps
        .filter((g) => g.scope === 'network')
        .slice(0, 40)
        .map((g) => ({ from: Date.parse(g.start), to: g.end ? Date.parse(g.end) : now, g }))
        .sort((a, b) => a.from - b.from);
      const groups = [];
      for (const m of marked) {
        const last = groups[groups.length - 1];
        if (last && m.from <= last.to) {
          last.to = Math.max(last.to, m.to);
          last.gaps.push(m.g);
        } else groups.push({ from: m.from, to: m.to, gaps: [m.g] });
      }
      const areas = groups.map((grp) => {
        const unprecedented = grp.gaps.some((g) => g.unprecedented);
        const hoursMax = Math.max(...grp.gaps.map((g) => g.hours));
        const name = `${grp.gaps.map((g) => g.subject).join(', ')}: ${fmtNum(hoursMax)} h${unprecedented ? ', unprecedented' : ''}`;
        return [{ name, xAxis: grp.from, itemStyle: { color: unprecedented ? 'rgba(200,55,45,0.30)' : 'rgba(214,191,87,0.30)' } }, { xAxis: grp.to }];
      });
      timeAxisChart('gaps-timeline', d.activity, 'bar', null, { silent: true, label: { position: 'insideTop', color: '#8a2a22', fontSize: 11 }, data: areas });
      const gapColumns = [
        { title: 'Subject', value: (g) => g.subject, kind: 'text' },
        { title: 'Scope', value: (g) => g.scope },
        { title: 'Start', value: (g) => fmtTime(g.start) },
        { title: 'End', value: (g) => (g.end ? fmtTime(g.end) : 'open') },
        { title: 'Hours', value: (g) => fmtNum(g.hours), kind: 'num' },
        { title: 'Usual max (h)', value: (g) => fmtNum(g.baselineHours), kind: 'num' },
        { title: 'Longest before (h)', value: (g) => fmtNum(g.previousLongestHours), kind: 'num' },
        { title: '', value: (g) => (g.unprecedented ? 'unprecedented' : ''), kind: 'badge' },
      ];
      renderTable('gaps-table', gapColumns, d.gaps, 'No silence gaps in this range.');
      renderTable('gaps-open', gapColumns, d.open, 'Nothing is silent right now.');
    },

    migration(d) {
      const days = d.days.map((x) => Date.parse(x));
      chart('mig-share', {
        xAxis: { type: 'time' },
        yAxis: { type: 'value', max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
        series: [{ name: 'off-platform share', type: 'line', symbol: 'none', areaStyle: { opacity: 0.15 }, data: days.map((t, i) => [t, d.offPlatformShare[i]]) }],
      });
      chart('mig-platforms', {
        legend: { type: 'scroll', top: 0 },
        xAxis: { type: 'time' },
        yAxis: { type: 'value', name: 'links' },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
        series: d.platforms.map((p) => ({ name: p.key, type: 'bar', stack: 'links', large: true, data: days.map((t, i) => [t, p.links[i]]) })),
      });
      renderTable('mig-first', [
        { title: 'Platform', value: (m) => m.platform },
        { title: 'First seen', value: (m) => fmtTime(m.at) },
        { title: 'Where', value: (m) => `${m.scope}: ${m.subject}`, kind: 'text' },
      ], d.firstSeen, 'No platform appeared in this range.');
      const top = d.domains.slice().reverse();
      chart('mig-domains', {
        tooltip: { trigger: 'item', renderMode: 'richText' },
        grid: { left: 190, right: 24, top: 8, bottom: 24 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', data: top.map((x) => x.domain), axisLabel: { width: 170, overflow: 'truncate' } },
        series: [{ type: 'bar', name: 'events', data: top.map((x) => x.events) }],
      });
      renderTable('mig-surges', [
        { title: 'Day', value: (m) => fmtDay(m.at) },
        { title: 'Platform', value: (m) => m.platform },
        { title: 'Where', value: (m) => `${m.scope}: ${m.subject}`, kind: 'text' },
        { title: 'Share', value: (m) => fmtPct(m.share), kind: 'num' },
        { title: 'Usual share', value: (m) => fmtPct(m.usualShare), kind: 'num' },
      ], d.surges.slice().reverse(), 'No surges in this range.');
    },

    takedowns(d) {
      // Daily buckets (api.ts). Over years a day is under a pixel wide: bars keep a visible width
      // (ECharts' large mode would draw them as hairlines).
      timeAxisChart('td-bans', d.bansByLanguage, 'bar', { yAxis: { type: 'value', name: 'channels banned' } }, null, { large: false, barMinWidth: 3, barMaxWidth: 40 });
      chart('td-waves', {
        legend: { top: 0 },
        xAxis: { type: 'time' },
        yAxis: [{ type: 'value', name: 'channels seen banned' }, { type: 'value', name: 'platform-reported', position: 'right' }],
        series: [
          { name: 'channels banned', type: 'bar', barMinWidth: 4, barMaxWidth: 40, data: d.waves.map((w) => [Date.parse(w.day), w.channels]) },
          { name: 'reported by the platform', type: 'scatter', yAxisIndex: 1, symbolSize: 9, data: d.waves.filter((w) => w.reported !== null).map((w) => [Date.parse(w.day), w.reported]) },
        ],
      });
      renderTable('td-resurrections', [
        { title: 'Banned', value: (r) => r.banned, kind: 'text' },
        { title: 'Successor', value: (r) => r.successor, kind: 'text' },
        { title: 'Banned at', value: (r) => fmtTime(r.bannedAt) },
        { title: 'Delay (min)', value: (r) => fmtNum(r.delayMinutes, 0), kind: 'num' },
        { title: 'Min to 1,000', value: (r) => fmtNum(r.minutesTo1000, 0), kind: 'num' },
        { title: 'Regained', value: (r) => fmtPct(r.regainedShare), kind: 'num' },
      ], d.resurrections, 'No resurrections in this range.');
      // Lifespans binned by the page: 30-day bins up to the longest.
      const bin = 30;
      const counts = [];
      for (const l of d.lifespans) {
        const i = Math.floor(l.days / bin);
        counts[i] = (counts[i] || 0) + 1;
      }
      const labels = [];
      const values = [];
      for (let i = 0; i < counts.length; i++) {
        labels.push(`${i * bin}–${(i + 1) * bin}`);
        values.push(counts[i] || 0);
      }
      if (!values.length) chart('td-lifespans', EMPTY);
      else chart('td-lifespans', {
        xAxis: { type: 'category', name: 'days alive', nameLocation: 'middle', nameGap: 30, data: labels },
        yAxis: { type: 'value', name: 'channels' },
        series: [{ name: 'channels', type: 'bar', data: values }],
      });
      renderTable('td-waves-table', [
        { title: 'Day', value: (w) => fmtDay(w.day) },
        { title: 'Channels', value: (w) => fmtNum(w.channels, 0), kind: 'num' },
        { title: 'Languages', value: (w) => fmtNum(w.languages, 0), kind: 'num' },
        { title: 'Reported by the platform', value: (w) => fmtNum(w.reported, 0), kind: 'num' },
        { title: 'Networks', value: (w) => w.networks.join(', '), kind: 'text' },
        { title: 'Channels banned', value: (w) => fmtWaveChannels(w, 10), kind: 'text', hint: (w) => fmtWaveChannels(w, Infinity) },
      ], d.waves.slice().reverse(), 'No takedown waves in this range.');
    },

    spikes(d) {
      chart('sp-chart', {
        legend: { top: 0 },
        xAxis: { type: 'time' },
        yAxis: { type: 'value', name: 'events / hour' },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
        series: [
          { name: 'observed', type: 'bar', barMinWidth: 3, data: d.spikes.map((s) => [Date.parse(s.start), s.count]) },
          { name: 'expected', type: 'scatter', symbol: 'diamond', symbolSize: 8, data: d.spikes.map((s) => [Date.parse(s.start), s.expected]) },
        ],
      });
      const perDay = new Map();
      const severities = ['info', 'warning', 'critical'];
      for (const a of d.alerts) {
        const day = Date.parse(fmtDay(a.firedAt));
        const row = perDay.get(day) || { info: 0, warning: 0, critical: 0 };
        row[a.severity] += 1;
        perDay.set(day, row);
      }
      const daysSorted = [...perDay.keys()].sort((a, b) => a - b);
      chart('sp-alerts', {
        legend: { top: 0 },
        color: ['#6092c0', '#d6bf57', '#c8372d'],
        xAxis: { type: 'time' },
        yAxis: { type: 'value', name: 'alerts', minInterval: 1 },
        series: severities.map((s) => ({ name: s, type: 'bar', stack: 'alerts', barMinWidth: 4, barMaxWidth: 40, data: daysSorted.map((t) => [t, perDay.get(t)[s]]) })),
      });
      renderTable('sp-table', [
        { title: 'Subject', value: (s) => s.subject, kind: 'text' },
        { title: 'Scope', value: (s) => s.scope },
        { title: 'Start', value: (s) => fmtTime(s.start) },
        { title: 'Observed', value: (s) => fmtNum(s.count, 0), kind: 'num' },
        { title: 'Expected', value: (s) => fmtNum(s.expected), kind: 'num' },
        { title: 'p-value', value: (s) => (s.pValue < 0.0001 ? s.pValue.toExponential(1) : s.pValue.toFixed(4)), kind: 'num' },
      ], d.spikes.slice().reverse(), 'No spikes in this range.');
      renderTable('sp-history', [
        { title: 'Fired', value: (a) => fmtTime(a.firedAt) },
        { title: 'Rule', value: (a) => a.rule },
        { title: 'Severity', value: (a) => a.severity, kind: 'badge' },
        { title: 'State', value: (a) => a.state, kind: 'badge' },
        { title: 'Message', value: (a) => a.message, kind: 'text' },
        { title: 'Resolved', value: (a) => fmtTime(a.resolvedAt) },
      ], d.alerts, 'No alerts in this range.');
    },
  };

  // ---- filters and loading ------------------------------------------------------------------
  function query() {
    const p = new URLSearchParams();
    if ($('from').value) p.set('from', $('from').value);
    if ($('to').value) {
      // The picker names a day; the API's `to` is exclusive, so ask up to the next midnight.
      const next = new Date(Date.parse(`${$('to').value}T00:00:00Z`) + 86400000);
      p.set('to', next.toISOString().slice(0, 10));
    }
    for (const o of $('network').selectedOptions) p.append('network', o.value);
    if ($('channel').value) p.append('channel', $('channel').value);
    return p;
  }

  function setStatus(meta) {
    const s = meta.summary;
    const range = s.firstAt ? `${fmtDay(s.firstAt)} → ${fmtDay(s.lastAt)}` : 'no events yet';
    const when = REPORT ? `report generated ${fmtTime(REPORT.generatedAt)}${REPORT.range ? ` for ${REPORT.range}` : ''}` : `updated ${fmtTime(new Date().toISOString())}`;
    $('status').textContent = `${fmtNum(s.events, 0)} events · ${fmtNum(s.channels, 0)} channels · ${range} · ${when}`;
  }

  function fillFilters(meta) {
    const net = $('network');
    const chosen = new Set([...net.selectedOptions].map((o) => o.value));
    net.replaceChildren(...meta.networks.map((n) => {
      const o = node('option', n);
      o.value = n;
      o.selected = chosen.has(n);
      return o;
    }));
    const ch = $('channel');
    const current = ch.value;
    const all = node('option', 'All channels');
    all.value = '';
    ch.replaceChildren(all, ...meta.channels.map((c) => {
      const o = node('option', c.title ? `${channelName(c)} — ${c.title}` : channelName(c));
      o.value = c.id;
      return o;
    }));
    ch.value = current;
  }

  function showError(message) {
    const e = $('error');
    e.hidden = !message;
    e.textContent = message || '';
  }

  // ---- the reader token ----------------------------------------------------------------------
  // With a reader token configured the API answers 401 until the page sends it. It is asked for
  // once and kept in sessionStorage (gone when the tab closes) and sent only as a header: never in
  // a URL, where history, proxies and Referer headers would keep it.
  const TOKEN_KEY = 'tidewatch.readerToken';
  let asking = null;

  /** Show the token form (once, however many requests were refused) until a token is entered. */
  function askToken(message) {
    if (asking) return asking;
    asking = new Promise((resolve) => {
      const form = $('login');
      $('login-message').textContent = message;
      $('token').value = '';
      form.hidden = false;
      $('token').focus();
      form.addEventListener('submit', function submitted(e) {
        e.preventDefault();
        const token = $('token').value.trim();
        if (!token) return;
        form.removeEventListener('submit', submitted);
        form.hidden = true;
        sessionStorage.setItem(TOKEN_KEY, token);
        asking = null;
        resolve();
      });
    });
    return asking;
  }

  async function getJson(url) {
    for (;;) {
      const token = sessionStorage.getItem(TOKEN_KEY);
      const headers = { accept: 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(url, { headers });
      const body = await res.json();
      if (res.status === 401 || res.status === 403) {
        // A refused token is forgotten, unless another answer already brought a newer one.
        if (token && sessionStorage.getItem(TOKEN_KEY) === token) sessionStorage.removeItem(TOKEN_KEY);
        await askToken(token ? `That token was not accepted (${body.error}).` : 'This dashboard needs its reader token.');
        continue;
      }
      if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
      return body;
    }
  }

  // ---- the pipeline strip (consumers in this process only: the embedded default) -------------
  function fmtAge(iso, nowIso) {
    const secs = Math.max(0, (Date.parse(nowIso) - Date.parse(iso)) / 1000);
    if (secs < 90) return `${Math.round(secs)} s ago`;
    if (secs < 5400) return `${Math.round(secs / 60)} min ago`;
    if (secs < 129600) return `${Math.round(secs / 3600)} h ago`;
    return `${Math.round(secs / 86400)} d ago`;
  }

  function stripItem(label, value, note, bad) {
    const item = node('span', null, bad ? 'bad' : '');
    item.append(`${label} `, node('b', value), note ? ` · ${note}` : '');
    return item;
  }

  async function loadPipeline() {
    const strip = $('pipeline');
    let p;
    try {
      p = await getJson('/api/pipeline');
    } catch {
      // Not served here (Kafka + Elasticsearch: each consumer has its own /metrics).
      strip.hidden = true;
      return;
    }
    const lag = p.lag ? stripItem('Lag', `${fmtNum(p.lag.records, 0)} records`, `read ${fmtAge(p.lag.at, p.now)}`) : stripItem('Lag', '–', 'not read yet');
    const dlq = stripItem('DLQ', fmtNum(p.deadLetters.count, 0), p.deadLetters.lastAt ? `last ${fmtAge(p.deadLetters.lastAt, p.now)}` : '', p.deadLetters.count > 0);
    const a = p.lastAlertEvaluation;
    const alert = a ? stripItem('Last alert evaluation', fmtAge(a.at, p.now), `${a.rule}: ${a.ok ? 'ok' : 'failed'}`, !a.ok) : stripItem('Last alert evaluation', '–', 'none yet');
    const poll = p.lastCollectorPoll ? stripItem('Last collector poll', fmtAge(p.lastCollectorPoll.at, p.now)) : stripItem('Last collector poll', '–', 'no collector in this process');
    strip.replaceChildren(node('span', 'Pipeline'), lag, dlq, alert, poll);
    strip.hidden = false;
  }

  function render(view, data) {
    const section = $(`view-${view}`);
    RENDER[view](data);
    section.dataset.loaded = 'true';
  }

  async function load(withMeta) {
    const view = state.view;
    const seq = ++state.seq;
    // `data-loaded` marks the view drawn from the latest request only: an answer to an earlier
    // one (a live refresh in flight when the filters changed) must not look like the new one.
    delete $(`view-${view}`).dataset.loaded;
    if (REPORT) {
      setStatus(REPORT.meta);
      render(view, REPORT.views[view]);
      return;
    }
    try {
      const [meta, data] = await Promise.all([withMeta ? getJson('/api/meta') : null, getJson(`/api/view/${view}?${query()}`)]);
      // A slower, older answer must not overwrite a newer one.
      if (seq !== state.seq) return;
      if (meta) {
        state.meta = meta;
        if (meta.display) setZone(meta.display.timezone);
        fillFilters(meta);
      }
      if (state.meta) setStatus(state.meta);
      render(view, data);
      showError('');
    } catch (err) {
      if (seq === state.seq) showError(`Could not load the ${view} view: ${err.message}`);
    }
  }

  function show(view) {
    state.view = VIEWS.includes(view) ? view : 'overview';
    for (const v of VIEWS) $(`view-${v}`).hidden = v !== state.view;
    for (const b of document.querySelectorAll('#tabs button')) {
      if (b.dataset.view === state.view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    load(!state.meta).then(resizeCharts);
  }

  for (const b of document.querySelectorAll('#tabs button')) {
    b.addEventListener('click', () => {
      history.replaceState(null, '', `#${b.dataset.view}`);
      show(b.dataset.view);
    });
  }
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  window.addEventListener('resize', resizeCharts);

  if (REPORT) {
    document.body.classList.add('report');
  } else {
    for (const id of ['from', 'to', 'network', 'channel']) $(id).addEventListener('change', () => load(false));
    $('all-time').addEventListener('click', () => {
      $('from').value = '';
      $('to').value = '';
      load(false);
    });
    $('clear-filters').addEventListener('click', () => {
      for (const o of $('network').options) o.selected = false;
      $('channel').value = '';
      load(false);
    });
    let ticks = 0;
    loadPipeline();
    setInterval(() => {
      if (!$('live').checked || document.visibilityState !== 'visible' || !$('login').hidden) return;
      loadPipeline();
      // The channel list changes slowly: refresh it every sixth tick, or until it first loads.
      load(!state.meta || ++ticks % 6 === 0);
    }, LIVE_MS);
  }
  show(location.hash.slice(1));
})();
