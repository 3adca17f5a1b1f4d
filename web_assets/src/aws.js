// The two AWS calls the worker makes: Cognito guest credentials (unsigned) and a SigV4-signed PutItem.
import { classify, errorType } from './retry.js';
import { sigv4 } from './sigv4.js';

/**
 * @typedef {{AccessKeyId: string, SecretKey: string, SessionToken: string, identityId: string}} Credentials as Cognito gives them, with the identity id
 * @typedef {{region: string, identityPoolId: string, tableName: string, endpoints?: {cognito?: string, dynamodb?: string}}} Config
 * @typedef {{status?: number, body?: unknown, message?: string}} Reply no status when no response came (a network error)
 */

/** The meta key of the visitor's identity id. */
export const ID = 'identityId';

/**
 * POSTs an AWS JSON request and never throws: a network failure becomes a reply without a status.
 * @param {typeof fetch} fetchFn
 * @param {RequestInfo} request
 * @param {RequestInit} [init]
 * @returns {Promise<Reply>}
 */
export const call = (fetchFn, request, init) =>
  fetchFn(request, init).then(
    async (response) => {
      const text = await response.text().catch(() => '');
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text.slice(0, 200) }; // not JSON (a proxy's error page, say), or empty
      }
      return { status: response.status, body, message: body?.message || body?.Message || errorType(body) };
    },
    (err) => ({ message: String(err.message || err) }),
  );

/**
 * Guest credentials from the identity pool. The identity id is kept (meta ``identityId``) so a returning visitor
 * keeps one identity, and one partition. Credentials are refreshed before they expire: the smaller of
 * five minutes and half their lifetime ahead.
 * @param {Config} config
 * @param {(key: string, update?: (value: any) => unknown) => Promise<any>} meta the outbox's meta values (store.js)
 * @param {() => number} [now]
 * @param {typeof globalThis.fetch} [fetchFn]
 */
export function guestCredentials(config, meta, now = Date.now, fetchFn = fetch) {
  /** Resolves with the credentials; new ones are fetched once ``now()`` reaches ``refreshAt``. @type {Promise<Credentials>} */
  let current;
  let refreshAt = 0;

  /** One Cognito call: the reply's body, or an error naming the call. @param {string} target @param {Record<string, string>} payload */
  const cognito = async (target, payload) => {
    const reply = await call(fetchFn, config.endpoints?.cognito || `https://cognito-identity.${config.region}.amazonaws.com/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityService.${target}` },
      body: JSON.stringify(payload),
    });
    // An identity the pool no longer knows (pool recreated): forgotten, so the next attempt starts a new one.
    if (errorType(reply.body) === 'ResourceNotFoundException') await meta(ID, (stored) => (stored === payload.IdentityId ? undefined : stored));
    if (classify(reply) === 'ok') return /** @type {any} */ (reply.body);
    throw Object.assign(Error(`putonly: ${target} failed: ${reply.status ? `${reply.status} ${reply.message}` : 'network error'}`), { reply });
  };

  /** Set by reset(): an answer still on its way is of the identity the visitor asked to forget. */
  let retired = false;
  const stillMine = () => {
    if (retired) throw Error('putonly: reset() forgot this identity');
  };

  /** @returns {Promise<Credentials>} */
  const fetchCredentials = async () => {
    // Two tabs of a first visit both ask; the id stored first wins, so the visitor has one partition.
    let identityId = await meta(ID);
    if (!identityId) {
      const { IdentityId } = await cognito('GetId', { IdentityPoolId: config.identityPoolId });
      stillMine(); // never stored after reset() cleared it
      identityId = await meta(ID, (stored) => stored || IdentityId);
    }
    const credentials = (await cognito('GetCredentialsForIdentity', { IdentityId: identityId })).Credentials;
    stillMine();
    const expiresAt = credentials.Expiration * 1000;
    refreshAt = expiresAt - Math.min(5 * 60_000, (expiresAt - now()) / 2); // (expired already: before now)
    return { ...credentials, identityId };
  };

  /** The fetch under way, if any: every caller shares it, also one that invalidated meanwhile. @type {Promise<Credentials> | undefined} */
  let pending;
  return {
    /** @returns {Promise<Credentials>} */
    get: () =>
      now() < refreshAt
        ? current
        : (pending ||= current =
            fetchCredentials().then(
              (credentials) => ((pending = undefined), credentials),
              (err) => {
                pending = undefined;
                refreshAt = 0;
                throw err;
              },
            )),
    /** Forget the credentials (after an expired-token or bad-signature reply). */
    invalidate: () => void (refreshAt = 0),
    /** Forget them for good (reset()): a fetch under way gives nothing, and stores no identity id. */
    retire: () => void ((retired = true), (refreshAt = 0)),
  };
}

/**
 * @typedef {{url: string, method: string, headers: Record<string, string>, body: string}} SignedPut a signed PutItem as plain data:
 *   the worker sends it, and hands it to the loader to send with keepalive when the visit ends.
 */

/**
 * A SigV4-signed DynamoDB PutItem of an envelope item. ReturnValues is never sent (the guest policy allows
 * only NONE). The put is conditional: copies of one envelope (same key) may be written more than once as it
 * grows (a keepalive copy at the end of a visit, then the full envelope), and copies of one envelope only
 * ever gain events, so a copy with fewer events than the stored one must never replace it.
 * @param {Config} config @param {Credentials} credentials @param {Record<string, any>} item
 * @param {string} datetime the signing time, YYYYMMDD'T'HHMMSS'Z'
 * @returns {Promise<SignedPut>}
 */
export async function signPutItem(config, credentials, item, datetime) {
  const url = new URL(config.endpoints?.dynamodb || `https://dynamodb.${config.region}.amazonaws.com/`).href;
  const body = JSON.stringify({
    TableName: config.tableName,
    Item: item,
    ConditionExpression: 'attribute_not_exists(#c) OR #c <= :c',
    ExpressionAttributeNames: { '#c': 'count' },
    ExpressionAttributeValues: { ':c': item.count },
  });
  const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' };
  return { url, method: 'POST', headers: await sigv4(url, headers, body, credentials, config.region, 'dynamodb', datetime), body };
}
