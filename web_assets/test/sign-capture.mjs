// Prints the PutItem request the worker's signing code produces for fixed credentials and a fixed clock,
// so tests/unit/test_signature.py can recompute the SigV4 signature with botocore.
import { signPutItem } from '../src/aws.js';
import { seal, toItem } from '../src/envelope.js';

const limits = { envelopeMaxBytes: 16384, envelopeMaxEvents: 500, maxDelaySeconds: 30, retentionDays: 30 };
const json = JSON.stringify({ id: 123, position: 7, note: 'é ünïcode' });
const envelope = seal([{ id: 'AAAAAAAAAAAAAAAA', ts: 1_700_000_000_000, topic: 'song_player', subject: 'song-123', json, bytes: 0 }], limits, 'ENVELOPE00000001');
const credentials = {
  accessKeyId: 'ASIAFIXEDTESTKEY0001',
  secretAccessKey: 'fixed/test/secret/not/a/real/key/000000',
  sessionToken: 'FixedSessionTokenForTests==',
  identityId: 'us-east-1:11111111-2222-3333-4444-555555555555',
  expiresAt: 0,
};
const config = { region: 'us-east-1', identityPoolId: 'p', tableName: 'PutOnly-dev-Events' };
// The worker signs with credentials as Cognito gives them; botocore's names are printed.
const cognito = { AccessKeyId: credentials.accessKeyId, SecretKey: credentials.secretAccessKey, SessionToken: credentials.sessionToken, identityId: credentials.identityId };
const request = await signPutItem(config, cognito, toItem(envelope, credentials.identityId), '20231114T221320Z');
console.log(JSON.stringify({ method: 'POST', ...request, credentials }));
