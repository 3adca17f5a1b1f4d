// Signs many generated PutItem requests in one process, for tests/unit/test_signature.py's property test.
// Reads a JSON array of cases on stdin ({endpoint, region, tableName, datetime, credentials, item}); prints the
// {url, headers, body} signPutItem returns for each, in order.
import { signPutItem } from '../src/aws.js';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const signed = [];
for (const { endpoint, region, tableName, datetime, credentials, item } of JSON.parse(input)) {
  const config = { region, tableName, identityPoolId: 'unused', endpoints: { dynamodb: endpoint } };
  const { accessKeyId: AccessKeyId, secretAccessKey: SecretKey, sessionToken: SessionToken, identityId } = credentials;
  signed.push(await signPutItem(config, { AccessKeyId, SecretKey, SessionToken, identityId }, item, datetime)); // as Cognito gives them
}
console.log(JSON.stringify(signed));
