import type { Column, SavedObject } from './lens.ts';

/**
 * What the saved-object tests check: every field an object uses, with the data view it is
 * read from and how it is used (so the type it needs is known).
 */
export type FieldUse = 'time' | 'date_histogram' | 'terms' | 'numeric' | 'date_metric' | 'unique_count' | 'last_value' | 'range' | 'kql' | 'annotation_time' | 'annotation_field';

export interface UsedField {
  object: string;
  dataViewId: string;
  field: string;
  use: FieldUse;
}

/** Field names in a KQL query: `field : value`, quoted values removed first. */
export function kqlFields(query: string): string[] {
  const unquoted = query.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...unquoted.matchAll(/(?:^|[\s(])([A-Za-z@_][\w.@]*)\s*:/g)].map((m) => m[1]!);
}

function columnUses(c: Column): { field: string; use: FieldUse }[] {
  const out: { field: string; use: FieldUse }[] = [];
  const f = c.sourceField;
  if (f && f !== '___records___') {
    const use: FieldUse =
      c.operationType === 'date_histogram' ? 'date_histogram'
        : c.operationType === 'terms' ? 'terms'
          : c.operationType === 'unique_count' ? 'unique_count'
            : c.operationType === 'last_value' ? 'last_value'
              : c.operationType === 'range' ? 'range'
                : c.dataType === 'date' ? 'date_metric' : 'numeric';
    out.push({ field: f, use });
  }
  const sortField = c.params?.sortField;
  if (typeof sortField === 'string') out.push({ field: sortField, use: 'time' });
  if (c.filter) for (const k of kqlFields(c.filter.query)) out.push({ field: k, use: 'kql' });
  const filters = c.params?.filters as { input: { query: string } }[] | undefined;
  for (const flt of filters ?? []) for (const k of kqlFields(flt.input.query)) out.push({ field: k, use: 'kql' });
  return out;
}

interface LensState {
  datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, Column> }> } };
  visualization: { layers?: { layerId: string; layerType: string; annotations?: { timeField: string; textField?: string; extraFields?: string[]; filter: { query: string } }[] }[] };
  query: { query: string };
}

export function usedFields(objects: readonly SavedObject[]): UsedField[] {
  const out: UsedField[] = [];
  for (const o of objects) {
    if (o.type === 'index-pattern') {
      // A data view of current state has no time field.
      if (o.attributes.timeFieldName !== undefined) out.push({ object: o.id, dataViewId: o.id, field: String(o.attributes.timeFieldName), use: 'time' });
      continue;
    }
    if (o.type !== 'lens') continue;
    const state = o.attributes.state as LensState;
    const refOf = (name: string) => o.references.find((r) => r.name === name)?.id ?? `(missing reference ${name})`;
    for (const [layerId, layer] of Object.entries(state.datasourceStates.formBased.layers)) {
      const dataViewId = refOf(`indexpattern-datasource-layer-${layerId}`);
      for (const c of Object.values(layer.columns)) for (const u of columnUses(c)) out.push({ object: o.id, dataViewId, ...u });
      for (const k of kqlFields(state.query.query)) out.push({ object: o.id, dataViewId, field: k, use: 'kql' });
    }
    for (const layer of state.visualization.layers ?? []) {
      if (layer.layerType !== 'annotations') continue;
      const dataViewId = refOf(`xy-visualization-layer-${layer.layerId}`);
      for (const a of layer.annotations ?? []) {
        out.push({ object: o.id, dataViewId, field: a.timeField, use: 'annotation_time' });
        for (const f of [a.textField, ...(a.extraFields ?? [])]) if (f) out.push({ object: o.id, dataViewId, field: f, use: 'annotation_field' });
        for (const k of kqlFields(a.filter.query)) out.push({ object: o.id, dataViewId, field: k, use: 'kql' });
      }
    }
  }
  return out;
}

const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long']);
const AGGREGATABLE = new Set([...NUMERIC, 'keyword', 'boolean', 'date', 'date_nanos', 'ip']);

/** Whether an Elasticsearch field type can serve a use; null when it can, else why not. */
export function incompatibility(use: FieldUse, type: string): string | null {
  const ok =
    use === 'time' || use === 'date_histogram' || use === 'annotation_time' || use === 'date_metric' ? type === 'date' || type === 'date_nanos'
      : use === 'numeric' || use === 'range' ? NUMERIC.has(type)
        : use === 'terms' || use === 'unique_count' || use === 'last_value' || use === 'annotation_field' ? AGGREGATABLE.has(type)
          : true; // KQL can query any mapped field; existence is checked by the caller
  return ok ? null : `${use} needs ${use === 'numeric' || use === 'range' ? 'a numeric' : use.includes('time') || use.includes('date') ? 'a date' : 'an aggregatable'} field, got ${type}`;
}

/**
 * The Elasticsearch query Kibana runs for a KQL query, for the subset the saved objects use:
 * `field : "phrase"` (match_phrase), `field : value` (match), `field : *` (exists), `and`, `or`,
 * `not` and parentheses. Anything else (wildcards inside values, ranges, nested fields) throws,
 * so a panel query outside the subset fails its test instead of being checked loosely.
 */
export function kqlToQuery(kql: string): Record<string, unknown> {
  const tokens = [...kql.matchAll(/\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()":]+|:)/gy)].map((m) => m[1]!);
  if (tokens.join('').replace(/\s/g, '') !== kql.replace(/\s/g, '')) throw new Error(`KQL outside the tested subset: ${kql}`);
  let i = 0;
  const peek = () => tokens[i]?.toLowerCase();
  const or = (): Record<string, unknown> => {
    const parts = [and()];
    while (peek() === 'or') {
      i++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : { bool: { should: parts, minimum_should_match: 1 } };
  };
  const and = (): Record<string, unknown> => {
    const parts = [unary()];
    while (peek() === 'and') {
      i++;
      parts.push(unary());
    }
    return parts.length === 1 ? parts[0]! : { bool: { filter: parts } };
  };
  const unary = (): Record<string, unknown> => {
    if (peek() === 'not') {
      i++;
      return { bool: { must_not: [unary()] } };
    }
    if (peek() === '(') {
      i++;
      const q = or();
      if (tokens[i++] !== ')') throw new Error(`KQL: missing ) in ${kql}`);
      return q;
    }
    const field = tokens[i++];
    if (!field || tokens[i++] !== ':') throw new Error(`KQL: expected "field : value" in ${kql}`);
    const value = tokens[i++];
    if (value === undefined) throw new Error(`KQL: no value for ${field} in ${kql}`);
    if (value === '*') return { exists: { field } };
    if (value.startsWith('"')) return { match_phrase: { [field]: JSON.parse(value) as string } };
    if (/[*?\\]/.test(value)) throw new Error(`KQL wildcard or escape outside the tested subset: ${value} in ${kql}`);
    return { match: { [field]: value } };
  };
  if (kql.trim() === '') return { match_all: {} };
  const q = or();
  if (i !== tokens.length) throw new Error(`KQL: unexpected ${tokens[i]} in ${kql}`);
  return q;
}
