// The comparison: the same job done the usual way, a worker on AWS SDK v3 with Cognito guest credentials.
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-provider-cognito-identity';

let client;
self.onmessage = async ({ data }) => {
  client ||= new DynamoDBClient({
    region: data.region,
    credentials: fromCognitoIdentityPool({ identityPoolId: data.identityPoolId, clientConfig: { region: data.region } }),
  });
  await client.send(new PutItemCommand({ TableName: data.tableName, Item: data.item }));
};
