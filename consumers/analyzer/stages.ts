import type { Finding } from '../../pipeline/analytics/types.ts';

/**
 * The analyzer runs in two stages because the activity topic is keyed by channel:
 * - channel stage: one detector state per partition of the activity topic, the authority for
 *   what a single channel shows (its gaps, spikes, platforms first seen, lifespan);
 * - network stage: one detector state over every event, fed by a single-partition topic, the
 *   authority for what needs all channels at once (network and all-channel gaps, spikes and
 *   migrations, takedown waves, resurrections across channels, links per day).
 * Both run the same analytics core, each scoped to the findings it is the authority for
 * (analyzer.init's `scope`; stages.test.ts holds the scopes to this function), and each stores
 * only those, so a partial view (one partition's share of a network) never reaches the store.
 * The watch-list status (analytics/status/) needs every member at once too: only the network
 * stage runs it.
 */
export type StageName = 'channel' | 'network';

export function stageOf(finding: Finding): StageName {
  switch (finding.type) {
    case 'gap':
    case 'spike':
    case 'migration':
      return finding.scope === 'channel' ? 'channel' : 'network';
    case 'lifespan':
      // Creation and end of a channel are keyed by that channel: same partition, same state.
      return 'channel';
    case 'takedown':
    case 'resurrection':
    case 'link_day':
      return 'network';
  }
}

