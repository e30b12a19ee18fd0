/**
 * The local stack's own certificate authority, made with the openssl CLI on first use and kept
 * under `.stack/conf/tls/`: a CA, a server certificate for 127.0.0.1/localhost (Kafka's TLS
 * listeners and the HTTPS edge), a client certificate for mutual TLS, and a second CA that
 * signed none of them, so tests can show what trusting the wrong CA looks like. Nothing here is a secret worth keeping: delete the folder to make new ones.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dirs, ensureDir } from './paths';

export interface StackTls {
  dir: string;
  /** PEM of the stack's CA: what clients trust */
  caFile: string;
  /** the server certificate (SAN 127.0.0.1, localhost) and its unencrypted PKCS#8 key */
  serverCertFile: string;
  serverKeyFile: string;
  /** key and certificate chain in one file, as Kafka's PEM keystore reads them */
  serverKeystoreFile: string;
  /** a client certificate (CN=supervisor) signed by the CA, for the mutual-TLS listener */
  clientCertFile: string;
  clientKeyFile: string;
  /** the same client key encrypted with `clientKeyPassword` */
  clientKeyEncryptedFile: string;
  clientKeyPassword: string;
  /** a CA that signed none of the stack's certificates: trusting it instead of `caFile` must fail */
  otherCaFile: string;
}

export const tlsDir = () => path.join(dirs.conf, 'tls');

export function stackTls(): StackTls {
  const dir = tlsDir();
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile: path.join(dir, 'server-key.pem'),
    serverKeystoreFile: path.join(dir, 'server-keystore.pem'),
    clientCertFile: path.join(dir, 'client.pem'),
    clientKeyFile: path.join(dir, 'client-key.pem'),
    clientKeyEncryptedFile: path.join(dir, 'client-key-encrypted.pem'),
    clientKeyPassword: 'stack-client-key-password',
    otherCaFile: path.join(dir, 'other-ca.pem'),
  };
}

function openssl(args: string[], cwd: string): void {
  const res = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (res.error) throw new Error(`openssl could not run (install Debian's openssl package): ${res.error.message}`);
  if (res.status !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${res.stderr.trim().slice(-600)}`);
}

function makeCa(cwd: string, name: string, subject: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '3650',
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.pem`,
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    cwd,
  );
}

function signLeaf(cwd: string, ca: string, name: string, subject: string, ext: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject], cwd);
  fs.writeFileSync(path.join(cwd, `${name}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-sha256',
      '-days',
      '825',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}-key.pem`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    ],
    cwd,
  );
  fs.rmSync(path.join(cwd, `${name}.csr`));
  fs.rmSync(path.join(cwd, `${name}.ext`));
}

const SERVER_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n';
const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

/** Makes the CA and certificates once (idempotent); returns where they are. */
export function ensureStackTls(): StackTls {
  const tls = stackTls();
  const done = path.join(tls.dir, 'made.json');
  if (fs.existsSync(done)) return tls;
  fs.rmSync(tls.dir, { recursive: true, force: true });
  const cwd = ensureDir(tls.dir);
  makeCa(cwd, 'ca', '/O=Pipeline Supervisor local stack/CN=Pipeline Supervisor local stack CA');
  signLeaf(cwd, 'ca', 'server', '/O=Pipeline Supervisor local stack/CN=localhost', SERVER_EXT);
  signLeaf(cwd, 'ca', 'client', '/O=Pipeline Supervisor local stack/CN=supervisor', CLIENT_EXT);
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'client-key.pem', '-out', 'client-key-encrypted.pem', '-passout', `pass:${tls.clientKeyPassword}`], cwd);
  makeCa(cwd, 'other-ca', '/O=Somebody else/CN=An untrusted CA');
  fs.writeFileSync(tls.serverKeystoreFile, fs.readFileSync(tls.serverKeyFile, 'utf8') + fs.readFileSync(tls.serverCertFile, 'utf8'));
  for (const f of fs.readdirSync(cwd)) if (f.endsWith('-key.pem')) fs.chmodSync(path.join(cwd, f), 0o600);
  fs.writeFileSync(done, JSON.stringify({ madeAt: new Date().toISOString() }) + '\n');
  return tls;
}
