// Requests and DynamoDB write units per 1,000 events of the 2015 shape: one listener, one play event per
// second with the post's ~150-byte data object, on a virtual clock. PutOnly uses its own packer with the
// default settings; the seed writes one item per event. Item sizes follow DynamoDB's rules (itemSize) and
// each write is charged in whole 1 KB units.
import { createPacker, itemSize, seal, toItem, writeUnits } from '../web_assets/src/envelope.js';

const limits = { envelopeMaxBytes: 16384, envelopeMaxEvents: 500, maxDelaySeconds: 30, retentionDays: 0 };
const EVENTS = 1000;
const START = Date.UTC(2015, 4, 8, 16, 0, 0);

/** The 2015 post's data object after it added its fields: about 150 bytes of JSON. */
const seedData = (i, date) => ({ id: 123, position: i, duration: 215, volume: 80, src: 'player', user_id: '46', ip: '127.0.0.1', session_id: '12929219212', date });

let now = START;
const packer = createPacker(limits, () => now);
const envelopes = [];
const seedItems = [];
let dataBytes = 0;
for (let i = 0; i < EVENTS; i++) {
  now = START + i * 1000;
  const data = seedData(i, now);
  const json = JSON.stringify(data);
  dataBytes += json.length;
  const id = `ev${String(i).padStart(14, '0')}`; // same length as the tracker's ids
  for (const group of [...packer.add({ id, ts: now, topic: 'song_player', subject: 'song-123', json, bytes: json.length }), ...packer.due()]) {
    envelopes.push(seal(group.events, limits, group.id));
  }
  // The seed's item: hash key the song, range key the time, the data as a JSON string.
  seedItems.push({ song_id: { S: 'wwwmusicxraycom:song_player:123' }, date: { N: String(now) }, data: { S: json } });
}
for (const group of packer.all()) envelopes.push(seal(group.events, limits, group.id));

const identity = 'us-east-1:00000000-0000-0000-0000-000000000000';
const tableUnits = envelopes.reduce((n, e) => n + writeUnits(itemSize(toItem(e, identity))), 0);
const result = {
  events: EVENTS,
  data_bytes_per_event: Math.round(dataBytes / EVENTS),
  putonly: {
    requests: envelopes.length,
    wru: tableUnits,
    // The by_subject index projects only small attributes: one more unit per envelope.
    wru_with_gsi: tableUnits + envelopes.length,
    events_per_envelope: EVENTS / envelopes.length,
    max_wait_s: Math.max(...envelopes.map((e) => (e.last - e.first) / 1000)),
  },
  seed: {
    requests: seedItems.length,
    wru: seedItems.reduce((n, item) => n + writeUnits(itemSize(item)), 0),
  },
};
console.log(JSON.stringify(result));
