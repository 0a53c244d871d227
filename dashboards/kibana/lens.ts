import type { DashboardTime } from './time.ts';

/**
 * Builders for the Kibana saved objects tidewatch ships: data views, Lens visualizations and
 * dashboards, in the shape Kibana 8.9+ / 9.x exports them. Ids are fixed strings, so importing
 * with overwrite=true replaces the previous version in place (setup is idempotent).
 */

/** One saved object as a line of the NDJSON import file. */
export interface SavedObject {
  type: 'index-pattern' | 'lens' | 'dashboard';
  id: string;
  attributes: Record<string, unknown>;
  references: { type: string; id: string; name: string }[];
  coreMigrationVersion: string;
  typeMigrationVersion: string;
  managed: false;
}

/**
 * The versions the objects are written in. Kibana migrates older documents forward on import
 * and refuses newer ones, so these are the oldest versions whose shape we use, not the newest.
 */
const CORE_VERSION = '8.8.0';
const TYPE_VERSION = { 'index-pattern': '8.0.0', lens: '8.9.0', dashboard: '8.9.0' } as const;

/** `timeField: null`: a data view of current state (one document per subject), not filtered by the time picker. */
export function dataView(id: string, name: string, pattern: string, opts: { timeField?: string | null } = {}): SavedObject {
  const timeField = opts.timeField === undefined ? '@timestamp' : opts.timeField;
  return {
    type: 'index-pattern',
    id,
    attributes: {
      title: pattern,
      name,
      ...(timeField === null ? {} : { timeFieldName: timeField }),
      // Kibana reads the field list from the mapping itself when it is empty.
      fields: '[]',
      runtimeFieldMap: '{}',
      fieldFormatMap: '{}',
      typeMeta: '{}',
    },
    references: [],
    coreMigrationVersion: CORE_VERSION,
    typeMigrationVersion: TYPE_VERSION['index-pattern'],
    managed: false,
  };
}

export interface Kql {
  query: string;
  language: 'kuery';
}

export const kql = (query: string): Kql => ({ query, language: 'kuery' });

/** A Lens form-based column; `sourceField` is what the mapping checks look at. */
export interface Column {
  label: string;
  dataType: 'number' | 'string' | 'date' | 'boolean';
  operationType: string;
  sourceField?: string;
  isBucketed: boolean;
  scale: 'ratio' | 'ordinal' | 'interval';
  params?: Record<string, unknown>;
  filter?: Kql;
  reducedTimeRange?: string;
  /** Normalise the value per unit of time (Lens "normalize by unit"; count and sum only). */
  timeScale?: 'd';
  customLabel: true;
}

export const col = {
  dateHistogram(field = '@timestamp', interval = 'auto', label = 'Time'): Column {
    return { label, dataType: 'date', operationType: 'date_histogram', sourceField: field, isBucketed: true, scale: 'interval', params: { interval, includeEmptyRows: true, dropPartials: false }, customLabel: true };
  },
  /** `perDay`: events per day whatever the histogram's interval (Kibana widens it over long ranges). */
  count(label: string, opts: { filter?: Kql; perDay?: boolean } = {}): Column {
    return {
      label, dataType: 'number', operationType: 'count', sourceField: '___records___', isBucketed: false, scale: 'ratio', params: { emptyAsNull: false },
      ...(opts.filter ? { filter: opts.filter } : {}), ...(opts.perDay ? { timeScale: 'd' as const } : {}), customLabel: true,
    };
  },
  /** max, min, average, sum, median, unique_count over one field. */
  metric(operationType: 'max' | 'min' | 'average' | 'sum' | 'median' | 'unique_count', field: string, label: string, opts: { date?: boolean; filter?: Kql; reducedTimeRange?: string } = {}): Column {
    return {
      label, dataType: opts.date ? 'date' : 'number', operationType, sourceField: field, isBucketed: false, scale: opts.date ? 'interval' : 'ratio',
      ...(opts.filter ? { filter: opts.filter } : {}), ...(opts.reducedTimeRange ? { reducedTimeRange: opts.reducedTimeRange } : {}), customLabel: true,
    };
  },
  lastValue(field: string, label: string, dataType: Column['dataType'] = 'string'): Column {
    return { label, dataType, operationType: 'last_value', sourceField: field, isBucketed: false, scale: dataType === 'number' ? 'ratio' : 'ordinal', params: { sortField: '@timestamp', showArrayValues: true }, customLabel: true };
  },
  /** Top values of a field, ordered by another column of the layer (or alphabetically). */
  terms(field: string, label: string, size: number, orderBy?: string, dataType: Column['dataType'] = 'string'): Column {
    return {
      label, dataType, operationType: 'terms', sourceField: field, isBucketed: true, scale: 'ordinal',
      params: { size, orderBy: orderBy ? { type: 'column', columnId: orderBy } : { type: 'alphabetical', fallback: false }, orderDirection: orderBy ? 'desc' : 'asc', otherBucket: false, missingBucket: false, parentFormat: { id: 'terms' } },
      customLabel: true,
    };
  },
  filters(label: string, filters: { label: string; query: string }[]): Column {
    return { label, dataType: 'string', operationType: 'filters', isBucketed: true, scale: 'ordinal', params: { filters: filters.map((f) => ({ label: f.label, input: kql(f.query) })) }, customLabel: true };
  },
  histogram(field: string, label: string): Column {
    return { label, dataType: 'number', operationType: 'range', sourceField: field, isBucketed: true, scale: 'interval', params: { type: 'histogram', maxBars: 'auto', ranges: [{ from: 0, to: 1000, label: '' }], includeEmptyRows: true }, customLabel: true };
  },
};

type Columns = Record<string, Column>;

interface LensInput {
  id: string;
  title: string;
  description: string;
  dataViewId: string;
  columns: Columns;
  query?: Kql;
}

const LAYER = 'layer1';

/**
 * Breakdowns (terms, filters, ranges) before the date histogram, metrics last: Lens aggregates
 * in this order, so top values are ranked over the whole range, not within each interval (which
 * would show more than N series). Kibana's editor saves breakdown charts in this order too.
 */
export function columnOrder(columns: Columns): string[] {
  const ids = Object.keys(columns);
  const rank = (c: Column) => (!c.isBucketed ? 2 : c.operationType === 'date_histogram' ? 1 : 0);
  return ids.map((id, i) => ({ id, i, r: rank(columns[id]!) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.id);
}

function lens(input: LensInput, visualizationType: string, visualization: Record<string, unknown>, extraRefs: SavedObject['references'] = []): SavedObject {
  return {
    type: 'lens',
    id: input.id,
    attributes: {
      title: input.title,
      description: input.description,
      visualizationType,
      state: {
        datasourceStates: { formBased: { layers: { [LAYER]: { columns: input.columns, columnOrder: columnOrder(input.columns), incompleteColumns: {} } } } },
        visualization,
        query: input.query ?? kql(''),
        filters: [],
        internalReferences: [],
        adHocDataViews: {},
      },
    },
    references: [{ type: 'index-pattern', id: input.dataViewId, name: `indexpattern-datasource-layer-${LAYER}` }, ...extraRefs],
    coreMigrationVersion: CORE_VERSION,
    typeMigrationVersion: TYPE_VERSION.lens,
    managed: false,
  };
}

/** Query annotations drawn on an XY chart: one marker per matching document of another data view. */
export interface Annotation {
  id: string;
  label: string;
  dataViewId: string;
  query: Kql;
  timeField: string;
  textField: string;
  extraFields: string[];
  color: string;
}

export function xy(input: LensInput & { x: string; y: string[]; split?: string; series: 'bar_stacked' | 'line' | 'area_stacked' | 'bar'; annotations?: Annotation[] }): SavedObject {
  const layers: Record<string, unknown>[] = [
    { layerId: LAYER, layerType: 'data', seriesType: input.series, xAccessor: input.x, accessors: input.y, ...(input.split ? { splitAccessor: input.split } : {}), palette: { type: 'palette', name: 'default' } },
  ];
  const refs: SavedObject['references'] = [];
  for (const a of input.annotations ?? []) {
    const layerId = `annotations-${a.id}`;
    layers.push({
      layerId,
      layerType: 'annotations',
      ignoreGlobalFilters: true,
      annotations: [{ type: 'query', id: a.id, label: a.label, key: { type: 'point_in_time' }, color: a.color, icon: 'alert', timeField: a.timeField, textVisibility: true, textField: a.textField, extraFields: a.extraFields, filter: { type: 'kibana_query', ...a.query } }],
    });
    refs.push({ type: 'index-pattern', id: a.dataViewId, name: `xy-visualization-layer-${layerId}` });
  }
  return lens(input, 'lnsXY', {
    legend: { isVisible: true, position: 'right' },
    valueLabels: 'hide',
    fittingFunction: 'None',
    preferredSeriesType: input.series,
    axisTitlesVisibilitySettings: { x: true, yLeft: true, yRight: true },
    layers,
  }, refs);
}

export function table(input: LensInput & { sortBy: string; direction?: 'asc' | 'desc' }): SavedObject {
  return lens(input, 'lnsDatatable', {
    layerId: LAYER,
    layerType: 'data',
    columns: Object.keys(input.columns).map((columnId) => ({ columnId, isTransposed: false })),
    sorting: { columnId: input.sortBy, direction: input.direction ?? 'desc' },
    rowHeight: 'single',
  });
}

export function metric(input: LensInput & { value: string }): SavedObject {
  return lens(input, 'lnsMetric', { layerId: LAYER, layerType: 'data', metricAccessor: input.value });
}

/** A dashboard of visualizations by reference, laid out in rows on Kibana's 48-column grid. */
export function dashboard(id: string, title: string, description: string, rows: { panel: SavedObject; w: number; h: number }[][], time: DashboardTime): SavedObject {
  const panels: Record<string, unknown>[] = [];
  const references: SavedObject['references'] = [];
  let y = 0;
  for (const row of rows) {
    let x = 0;
    for (const { panel, w, h } of row) {
      const i = String(panels.length + 1);
      panels.push({ version: '8.9.0', type: 'lens', gridData: { x, y, w, h, i }, panelIndex: i, embeddableConfig: {}, panelRefName: `panel_${i}` });
      references.push({ type: 'lens', id: panel.id, name: `panel_${i}` });
      x += w;
    }
    y += Math.max(...row.map((p) => p.h));
  }
  return {
    type: 'dashboard',
    id,
    attributes: {
      title,
      description,
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({ useMargins: true, syncColors: true, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
      timeRestore: true,
      timeFrom: time.from,
      timeTo: time.to,
      // No auto-refresh: re-running every panel over years of data each minute costs the cluster
      // more than it shows; the picker turns it on for a short range.
      refreshInterval: { pause: true, value: 0 },
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: kql(''), filter: [] }) },
    },
    references,
    coreMigrationVersion: CORE_VERSION,
    typeMigrationVersion: TYPE_VERSION.dashboard,
    managed: false,
  };
}
