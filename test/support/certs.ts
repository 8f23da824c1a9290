/**
 * Certificates for TLS tests, made with `openssl` for one run (P-256 keys, valid two days):
 * a CA, a node certificate for 127.0.0.1 usable as server and as client (what an agent presents
 * to its peers), an operator client certificate signed by the CA, a self-signed "rogue" client
 * certificate, and the node key encrypted with a passphrase.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  /** Absolute paths of the files. */
  caCert: string;
  nodeCert: string;
  nodeKey: string;
  /** The node key encrypted with {@link ENCRYPTED_KEY_PASSWORD}. */
  nodeKeyEncrypted: string;
  /** Certificate and key in one file (what haproxy's `crt` wants). */
  nodePem: string;
  clientCert: string;
  clientKey: string;
  rogueCert: string;
  rogueKey: string;
  /** File contents by path. */
  read(path: string): string;
}

export const ENCRYPTED_KEY_PASSWORD = 'hunter2';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Key pair and certificate `<name>.crt`/`<name>.key` for `cn`, signed by `signer` or self-signed. */
function issue(dir: string, name: string, cn: string, signer: string | null, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
  const signing = signer === null ? ['-signkey', `${name}.key`] : ['-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial'];
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, ...signing, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

/** Writes the certificates into `dir` (which must exist). Takes well under a second. */
export function makeTestCertificates(dir: string): TestCertificates {
  issue(dir, 'ca', 'pgwarden test CA', null, 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n');
  issue(dir, 'node', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue(dir, 'client', 'operator', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'rogue', 'operator', null, 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['pkey', '-in', 'node.key', '-aes256', '-passout', `pass:${ENCRYPTED_KEY_PASSWORD}`, '-out', 'node-encrypted.key']);
  const at = (f: string) => join(dir, f);
  writeFileSync(at('node.pem'), readFileSync(at('node.crt'), 'utf8') + readFileSync(at('node.key'), 'utf8'));
  return {
    dir,
    caCert: at('ca.crt'),
    nodeCert: at('node.crt'),
    nodeKey: at('node.key'),
    nodeKeyEncrypted: at('node-encrypted.key'),
    nodePem: at('node.pem'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueCert: at('rogue.crt'),
    rogueKey: at('rogue.key'),
    read: (path) => readFileSync(path, 'utf8'),
  };
}
