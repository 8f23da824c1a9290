/**
 * TLS for the REST API, from the `restapi` and `ctl` sections (reference §2.1, §2.2, §5):
 * the server side (`certfile`, `keyfile`, `keyfile_password`, `cafile`, `ciphers`,
 * `verify_client`) and the client side every pgwarden process uses to call members' APIs
 * (`ctl.*` first, `restapi.*` as fallback, as patronictl 3.0.2 does).
 *
 * Files are read and the server's key, certificate, passphrase and ciphers tried here, once per
 * (re)load, so a bad file is an error that names the key and the path at start or reload time,
 * never a failure in the middle of a request.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Config } from '../config/schema.js';
import { errorText, PgwardenError } from '../errors.js';
import type { ClientTls } from './http-client.js';

/** `restapi.verify_client`: whether callers must present a certificate signed by `cafile`. */
export type VerifyClient = 'none' | 'optional' | 'required';

/** What `https.createServer` needs, plus the client-certificate rule the access check enforces. */
export interface ServerTls extends SecureContextOptions {
  /** Ask every client for a certificate (`verify_client` optional or required). */
  requestCert: boolean;
  /**
   * `required`: the TLS handshake itself fails without a valid client certificate, so not even a
   * health check gets through (as in Patroni). `optional`: any client connects, and unsafe
   * methods are refused with 403 unless it presented a certificate that `cafile` verifies.
   */
  rejectUnauthorized: boolean;
  verifyClient: VerifyClient;
}

type RestApi = Config['restapi'];

/** Reads a PEM file named by a configuration key; the error names both. */
export function readPem(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new PgwardenError('CONFIG_INVALID', `${key} ${path}: ${errorText(e)}`);
  }
}

/** True when the REST API serves HTTPS (and `api_url` starts with `https://`). */
export function restApiUsesTls(restapi: RestApi): boolean {
  return typeof restapi.certfile === 'string' && restapi.certfile !== '';
}

/**
 * The server's TLS options, or null for plain HTTP. `keyfile` defaults to `certfile` (a PEM with
 * both). `verify_client` other than `none` needs `cafile`: without it no client certificate could
 * ever verify, which the schema cannot say, so it is refused here.
 */
export function serverTls(restapi: RestApi): ServerTls | null {
  if (!restApiUsesTls(restapi)) {
    for (const key of ['keyfile', 'cafile', 'verify_client'] as const) {
      if (restapi[key] !== undefined && restapi[key] !== 'none') {
        throw new PgwardenError('CONFIG_INVALID', `restapi.${key} is set but restapi.certfile is not: set certfile to serve the REST API over HTTPS`);
      }
    }
    return null;
  }
  const certfile = restapi.certfile as string;
  const verifyClient: VerifyClient = restapi.verify_client ?? 'none';
  if (verifyClient !== 'none' && restapi.cafile === undefined) {
    throw new PgwardenError('CONFIG_INVALID', `restapi.verify_client is ${verifyClient} but restapi.cafile is not set: client certificates are verified against cafile`);
  }
  const tls: ServerTls = {
    cert: readPem('restapi.certfile', certfile),
    key: readPem(restapi.keyfile !== undefined ? 'restapi.keyfile' : 'restapi.certfile', restapi.keyfile ?? certfile),
    requestCert: verifyClient !== 'none',
    rejectUnauthorized: verifyClient === 'required',
    verifyClient,
  };
  if (restapi.keyfile_password !== undefined) tls.passphrase = restapi.keyfile_password;
  if (restapi.cafile !== undefined) tls.ca = readPem('restapi.cafile', restapi.cafile);
  if (restapi.ciphers !== undefined) tls.ciphers = restapi.ciphers;
  try {
    createSecureContext(tls);
  } catch (e) {
    const files = [certfile, restapi.keyfile, restapi.cafile].filter((f) => f !== undefined).join(', ');
    throw new PgwardenError('CONFIG_INVALID', `restapi TLS settings (${files}${restapi.ciphers ? `, ciphers ${restapi.ciphers}` : ''}): ${errorText(e)}`);
  }
  return tls;
}

/**
 * TLS for calls to members' REST APIs: `ctl.cacert`/`certfile`/`keyfile`/`keyfile_password`,
 * each falling back to its `restapi` counterpart, and `ctl.insecure` to skip verification. The
 * fallback to the node's own certificate is what lets agents call each other when
 * `verify_client` is set.
 */
export function clientTls(config: Config): ClientTls {
  const ctl = config.ctl ?? {};
  const rest = config.restapi;
  const pick = (ctlKey: 'cacert' | 'certfile' | 'keyfile', restKey: 'cafile' | 'certfile' | 'keyfile'): string | undefined => {
    const own = ctl[ctlKey];
    if (own !== undefined) return readPem(`ctl.${ctlKey}`, own);
    const fallback = rest[restKey];
    return fallback !== undefined ? readPem(`restapi.${restKey}`, fallback) : undefined;
  };
  const tls: ClientTls = { verify: ctl.insecure !== true };
  const ca = pick('cacert', 'cafile');
  const cert = pick('certfile', 'certfile');
  // A certificate file may hold the private key too (OpenSSL reads the key block out of it).
  const key = pick('keyfile', 'keyfile') ?? cert;
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  const passphrase = ctl.keyfile_password ?? rest.keyfile_password;
  if (passphrase !== undefined) tls.passphrase = passphrase;
  return tls;
}
