// Writes tidewatch.ndjson (the default-prefix saved objects, for importing by hand in Kibana's
// Stack Management): `node --import tsx dashboards/kibana/export.ts`. objects.test.ts fails when
// the file is older than objects.ts.
import { writeFileSync } from 'node:fs';
import { savedObjectsNdjson } from './objects.ts';

writeFileSync(new URL('./tidewatch.ndjson', import.meta.url), savedObjectsNdjson('tidewatch'));
