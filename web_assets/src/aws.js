// The two AWS calls the worker makes: Cognito guest credentials (unsigned) and a SigV4-signed PutItem.
import { classify, errorType } from './retry.js';
import { sigv4 } from './sigv4.js';

/**
 * @typedef {{accessKeyId: string, secretAccessKey: string, sessionToken: string, expiresAt: number, identityId: string}} Credentials
 * @typedef {{region: string, identityPoolId: string, tableName: string, endpoints?: {cognito?: string, dynamodb?: string}}} Config
 * @typedef {{status?: number, body?: unknown, networkError?: boolean, message?: string}} Reply
 */

/** @param {Config} config */
export const cognitoEndpoint = (config) => config.endpoints?.cognito || `https://cognito-identity.${config.region}.amazonaws.com/`;
/** @param {Config} config */
export const dynamodbEndpoint = (config) => config.endpoints?.dynamodb || `https://dynamodb.${config.region}.amazonaws.com/`;

/**
 * POSTs an AWS JSON request and never throws: network failures become {networkError: true}.
 * @param {typeof fetch} fetchFn
 * @param {RequestInfo} request
 * @param {RequestInit} [init]
 * @returns {Promise<Reply>}
 */
export async function call(fetchFn, request, init) {
  let response;
  try {
    response = await fetchFn(request, init);
  } catch (err) {
    return { networkError: true, message: String(/** @type {Error} */ (err).message || err) };
  }
  const text = await response.text().catch(() => '');
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text.slice(0, 200) };
  }
  return { status: response.status, body, message: body && (body.message || body.Message || errorType(body)) };
}

/**
 * Guest credentials from the identity pool. The identity id is kept (``claimId``) so a returning visitor
 * keeps one identity, and one partition. Credentials are refreshed before they expire: the smaller of
 * five minutes and half their lifetime ahead.
 * @param {{config: Config, fetch: typeof globalThis.fetch, now?: () => number, loadId: () => Promise<string | undefined>,
 *   claimId: (id: string) => Promise<string>, forgetId: (id: string) => Promise<void>}} options
 *   ``claimId`` stores a new identity id unless another tab stored one first, and resolves with the stored one;
 *   ``forgetId`` forgets the stored id if it is still ``id``.
 */
export function guestCredentials({ config, fetch, now = Date.now, loadId, claimId, forgetId }) {
  /** @type {Credentials | undefined} */
  let current;
  let refreshAt = 0;
  /** @type {Promise<Credentials> | undefined} */
  let pending;

  /** @param {string} target @param {object} payload */
  const cognito = (target, payload) =>
    call(fetch, cognitoEndpoint(config), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `AWSCognitoIdentityService.${target}` },
      body: JSON.stringify(payload),
    });

  /** @returns {Promise<Credentials>} */
  const fetchCredentials = async () => {
    let identityId = await loadId();
    if (!identityId) {
      // Two tabs of a first visit both ask; the id stored first wins, so the visitor has one partition.
      identityId = await claimId(ok('GetId', await cognito('GetId', { IdentityPoolId: config.identityPoolId })).IdentityId);
    }
    const reply = await cognito('GetCredentialsForIdentity', { IdentityId: identityId });
    // An identity the pool no longer knows (pool recreated): the next attempt starts a new one.
    if (errorType(reply.body) === 'ResourceNotFoundException') await forgetId(identityId);
    const c = ok('GetCredentialsForIdentity', reply).Credentials;
    const expiresAt = c.Expiration * 1000;
    refreshAt = expiresAt - Math.min(5 * 60_000, Math.max(0, expiresAt - now()) / 2);
    return (current = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiresAt, identityId });
  };

  return {
    /** @returns {Promise<Credentials>} */
    get: () => (current && now() < refreshAt ? Promise.resolve(current) : (pending ||= fetchCredentials().finally(() => (pending = undefined)))),
    /** Forget the credentials (after an expired-token or bad-signature reply). */
    invalidate: () => void (current = undefined),
  };
}

/** The body of a successful reply; otherwise throws an error naming the call, carrying the reply. @param {string} what @param {Reply} reply @returns {any} */
function ok(what, reply) {
  if (classify(reply) === 'ok') return reply.body;
  throw Object.assign(new Error(`putonly: ${what} failed: ${reply.networkError ? 'network error' : `${reply.status} ${reply.message}`}`), { reply });
}

/**
 * @typedef {{url: string, headers: Record<string, string>, body: string}} SignedPut a signed PutItem as plain data:
 *   the worker sends it, and hands it to the loader to send with keepalive when the visit ends.
 */

/**
 * A SigV4-signed DynamoDB PutItem of an envelope item. ReturnValues is never sent (the guest policy allows
 * only NONE). The put is conditional: copies of one envelope (same key) may be written more than once as it
 * grows (a keepalive copy at the end of a visit, then the full envelope), and copies of one envelope only
 * ever gain events, so a copy with fewer events than the stored one must never replace it.
 * @param {{config: Config, credentials: Credentials, item: Record<string, any>, datetime?: string}} options
 * @returns {Promise<SignedPut>}
 */
export async function signPutItem({ config, credentials, item, datetime = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '') }) {
  const url = new URL(dynamodbEndpoint(config)).href;
  const body = JSON.stringify({
    TableName: config.tableName,
    Item: item,
    ConditionExpression: 'attribute_not_exists(#c) OR #c <= :c',
    ExpressionAttributeNames: { '#c': 'count' },
    ExpressionAttributeValues: { ':c': item.count },
  });
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' };
  return { url, headers: await sigv4({ url, headers, body, ...credentials, region: config.region, service: 'dynamodb', datetime }), body };
}
