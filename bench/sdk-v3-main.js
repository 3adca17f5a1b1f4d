// AWS SDK v3 called on the main thread, one PutItem per event, with a request handler that answers at once
// (no network), so what is timed is the SDK's own work on the main thread.
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';

const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'ASIABENCHMARK000000', secretAccessKey: 'bench/secret/not/real/0000000000000000', sessionToken: 't' },
  requestHandler: {
    handle: async () => ({ response: { statusCode: 200, headers: {}, body: new Blob(['{}']).stream() } }),
  },
});

let n = 0;
window.sdkTrack = (data) =>
  client.send(new PutItemCommand({
    TableName: 'events',
    Item: { song_id: { S: 'song_player:' + data.id }, date: { N: String(Date.now() + n++) }, data: { S: JSON.stringify(data) } },
  }));
