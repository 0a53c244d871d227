import type { DisplayOptions } from '../../pipeline/dates.ts';
import type { Store } from '../../pipeline/store/types.ts';
import { metaView, VIEWS, type ViewName, type ViewQuery } from './api.ts';
import { staticAssets } from './server.ts';

/** Text that cannot end the inline <script> element it is placed in. */
const inlineScript = (source: string) => source.replace(/<\/script/gi, '<\\/script');
/** JSON for an inline data block: `<` escaped, so no value can close the element or open a comment. */
const inlineJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/**
 * `tidewatch report`: the dashboard page with the data of all five views, the chart library,
 * the script and the style inlined into one HTML file that opens without a server. The page's
 * script renders it exactly as it renders the live API's answers (text only, never markup).
 * A local file cannot load 'self' scripts, so the CSP allows inline ones but still nothing from
 * the network.
 */
export async function buildReport(store: Store, query: ViewQuery, options: { display: DisplayOptions; generatedAt?: Date }): Promise<string> {
  const { display, generatedAt = new Date() } = options;
  const views = {} as Record<ViewName, unknown>;
  for (const name of Object.keys(VIEWS) as ViewName[]) views[name] = await VIEWS[name](store, query);
  const range = query.from || query.to ? `${query.from?.slice(0, 10) ?? 'start'} → ${query.to?.slice(0, 10) ?? 'now'}` : null;
  // Instants stay ISO 8601 in the data; the page shows them in `display.timezone`.
  const data = { generatedAt: generatedAt.toISOString(), range, query, display, meta: await metaView(store), views };
  const assets = staticAssets();
  const text = (path: string) => assets[path]!.body.toString('utf8');
  const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";
  return text('/')
    .replace('<meta charset="utf-8">', () => `<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="${csp}">`)
    .replace('<link rel="stylesheet" href="/static/app.css">', () => `<style>\n${text('/static/app.css')}</style>`)
    .replace(/<script src="\/static\/[a-z.]+" defer><\/script>\n/g, '')
    .replace('</body>', () => [
      `<script type="application/json" id="tidewatch-data">${inlineJson(data)}</script>`,
      `<script>${inlineScript(text('/static/echarts.min.js'))}</script>`,
      `<script>${inlineScript(text('/static/app.js'))}</script>`,
      '</body>',
    ].join('\n'));
}
