import type { Client, estypes } from '@elastic/elasticsearch';
import type { ElasticsearchConfig } from '../../config/index.ts';
import { esError } from './client.ts';
import { findingsTemplates } from './findings.ts';

type Mapping = Record<string, unknown>;
const keyword = { type: 'keyword', ignore_above: 1024 };
const date = { type: 'date' };

/** Mapping of the canonical activity event. Strict, so a wrong field is an error, not a new column. */
export const activityMapping: Mapping = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    event: { properties: { id: keyword, action: keyword, ingested: date } },
    platform: keyword,
    channel: {
      properties: {
        id: keyword,
        handle: keyword,
        title: { type: 'text', fields: { keyword } },
        language: keyword,
        network: keyword,
      },
    },
    message: {
      properties: {
        id: keyword,
        media: keyword,
        length: { type: 'integer' },
        forwarded_from: keyword,
        views: { type: 'long' },
        text: { type: 'text' },
      },
    },
    links: { type: 'keyword', ignore_above: 2048 },
    // Derived by the indexer from the platform catalogue (linkFields()): what dashboards count links by.
    link: { properties: { domain: keyword, platform: keyword } },
    subscribers: { type: 'long' },
    count: { type: 'long' },
    source: { properties: { type: keyword, name: keyword } },
    labels: keyword,
  },
};

export interface IndexTemplate {
  name: string;
  indexPatterns: string[];
  mappings: Mapping;
}

/** Monthly activity indices: an event's month comes from its own timestamp, so re-indexing lands in place. */
export function activityIndex(prefix: string, timestamp: string): string {
  return `${prefix}-activity-${timestamp.slice(0, 4)}.${timestamp.slice(5, 7)}`;
}

/** Every index template tidewatch owns; `tidewatch setup` installs them all. */
export function indexTemplates(prefix: string): IndexTemplate[] {
  return [{ name: `${prefix}-activity`, indexPatterns: [`${prefix}-activity-*`], mappings: activityMapping }, ...findingsTemplates(prefix)];
}

export async function installTemplates(client: Client, config: ElasticsearchConfig, templates = indexTemplates(config.indexPrefix)): Promise<string[]> {
  for (const t of templates) {
    try {
      await client.indices.putIndexTemplate({
        name: t.name,
        index_patterns: t.indexPatterns,
        priority: 200,
        template: {
          settings: { number_of_shards: config.shards, number_of_replicas: config.replicas, refresh_interval: '1s' },
          mappings: t.mappings,
        },
        _meta: { managed_by: 'tidewatch' },
      });
    } catch (err) {
      throw esError(err, `installing index template ${t.name}`);
    }
  }
  // Monthly activity indices created before a field was added keep their strict mapping, which
  // would refuse every event carrying it: they get the fields added since (only those, so an
  // index whose other fields differ, e.g. made by hand, is left as it is).
  try {
    const properties = (activityMapping as { properties: Record<string, unknown> }).properties;
    await client.indices.putMapping({ index: `${config.indexPrefix}-activity-*`, allow_no_indices: true, properties: { link: properties.link } as Record<string, estypes.MappingProperty> });
  } catch (err) {
    throw esError(err, `updating the mapping of the existing ${config.indexPrefix}-activity-* indices (a field changed type since they were created? reindex them)`);
  }
  return templates.map((t) => t.name);
}
