// AWS Signature Version 4 for exactly the worker's request: a POST with a string body, a session token and
// no query string (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
// A few dozen lines instead of a general-purpose signer, because every byte ships to every visitor; proven
// against botocore on hundreds of generated requests (tests/unit/test_signature.py).

/** @param {string} text */
const utf8 = (text) => new TextEncoder().encode(text);
/** @param {ArrayBuffer} buffer */
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
/** @param {string} text */
const sha256 = async (text) => hex(await crypto.subtle.digest('SHA-256', utf8(text)));
/** @param {BufferSource} key @param {string} text */
const hmac = async (key, text) => crypto.subtle.sign('HMAC', await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), utf8(text));

/**
 * Signs a POST of ``body`` to ``url``. ``headers`` have lower-case names; all of them are signed, with the host.
 * Returns the headers to send: ``headers`` plus x-amz-date, x-amz-security-token and authorization.
 * @param {string} url @param {Record<string, string>} headers @param {string} body
 * @param {{AccessKeyId: string, SecretKey: string, SessionToken: string}} credentials as Cognito's GetCredentialsForIdentity gives them
 * @param {string} region @param {string} service @param {string} datetime YYYYMMDD'T'HHMMSS'Z'
 * @returns {Promise<Record<string, string>>}
 */
export async function sigv4(url, headers, body, { AccessKeyId, SecretKey, SessionToken }, region, service, datetime) {
  const { host, pathname } = new URL(url); // host leaves out a default port, as the browser's Host header does
  headers = { ...headers, 'x-amz-date': datetime, 'x-amz-security-token': SessionToken };
  /** @type {Record<string, string>} */
  const signed = { ...headers, host };
  const names = Object.keys(signed).sort();
  const list = names.join(';');
  const scope = `${datetime.slice(0, 8)}/${region}/${service}/aws4_request`;
  const canonical = [
    'POST',
    // The path as sent, without repeated slashes, URI-encoded once more (all services but S3 sign it so).
    pathname.replace(/\/+/g, '/').replace(/[^\w/.~-]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()),
    '', // no query string
    ...names.map((name) => `${name}:${signed[name]}`),
    '',
    list,
    await sha256(body),
  ].join('\n');
  /** @type {BufferSource} */
  let key = utf8('AWS4' + SecretKey);
  for (const part of scope.split('/')) key = await hmac(key, part);
  const signature = hex(await hmac(key, `AWS4-HMAC-SHA256\n${datetime}\n${scope}\n${await sha256(canonical)}`));
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${AccessKeyId}/${scope}, SignedHeaders=${list}, Signature=${signature}`;
  return headers;
}
