/**
 * Detector state is plain data plus Map, Set and Float64Array (faster than objects for many keys, and safe
 * with hostile keys such as "__proto__"). These two functions turn it into JSON and back, so the
 * live analyzer can snapshot it per partition with the committed offset.
 */
const MAP = '$map';
const SET = '$set';
const F64 = '$f64';

export function snapshotState(state: unknown): string {
  return JSON.stringify(state, (_key, value: unknown) => {
    if (value instanceof Map) return { [MAP]: [...value] };
    if (value instanceof Set) return { [SET]: [...value] };
    if (value instanceof Float64Array) return { [F64]: Array.from(value) };
    return value;
  });
}

export function restoreState<S>(json: string): S {
  return JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      if (Array.isArray(o[MAP])) return new Map(o[MAP] as [unknown, unknown][]);
      if (Array.isArray(o[SET])) return new Set(o[SET] as unknown[]);
      if (Array.isArray(o[F64])) return Float64Array.from(o[F64] as number[]);
    }
    return value;
  }) as S;
}
