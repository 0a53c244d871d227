// The parser ships no types: the shape of its result as the tests use it (prom2json's).
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
