/**
 * src/shared/secrets.ts and src/shared/tls.ts: secrets from inline values or `*_file`, TLS files
 * into Node options with errors naming the key and path (never the content), and Node's TLS
 * failures as one sentence naming the problem and host:port. TLS files are the local stack's
 * (made with openssl on first use, no service needed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureStackTls } from '../../../stack/tls';
import { readSecretFile, resolveSecret } from '../../../src/shared/secrets';
import { describeTlsError, hostPortOf, readTlsFiles, tlsSettingsSchema } from '../../../src/shared/tls';

const tls = ensureStackTls();
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-tls-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

describe('resolveSecret', () => {
  it('takes the inline value, or the file with one trailing newline removed', () => {
    expect(resolveSecret({ key: 'password', value: 'inline' })).toBe('inline');
    expect(resolveSecret({ key: 'password' })).toBeUndefined();
    expect(resolveSecret({ key: 'password', file: file('nl', 's3cret\n') })).toBe('s3cret');
    expect(resolveSecret({ key: 'password', file: file('crlf', 's3cret\r\n') })).toBe('s3cret');
    // only one newline: the rest may be part of the secret
    expect(resolveSecret({ key: 'password', file: file('two', ' s3cret \n\n') })).toBe(' s3cret \n');
  });

  it('names the key and the path when the file is missing, a directory or empty, never the content', () => {
    const missing = path.join(dir, 'nope');
    expect(() => resolveSecret({ key: 'password', file: missing })).toThrow(`password_file: cannot read ${missing} (no such file (ENOENT))`);
    expect(() => readSecretFile(dir, 'token_file')).toThrow(`token_file: cannot read ${dir} (it is a directory (EISDIR))`);
    expect(() => readSecretFile(file('empty', '\n'), 'token_file')).toThrow(/token_file: .*empty is empty/);
    expect(() => resolveSecret({ key: 'password', value: 'a', file: file('both', 'b') })).toThrow('password and password_file are both set');
    try {
      readSecretFile(file('big', 'hunter2'.repeat(20_000)), 'token_file');
      throw new Error('expected a refusal');
    } catch (err) {
      expect((err as Error).message).toMatch(/more than a secret/);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});

describe('readTlsFiles', () => {
  it('reads CA, client certificate, key and passphrase into Node TLS options', () => {
    const out = readTlsFiles({
      caFile: tls.caFile,
      certFile: tls.clientCertFile,
      keyFile: tls.clientKeyEncryptedFile,
      keyPassword: tls.clientKeyPassword,
      servername: 'localhost',
      rejectUnauthorized: true,
    });
    expect(out.ca).toEqual([fs.readFileSync(tls.caFile)]);
    expect(out.cert).toEqual(fs.readFileSync(tls.clientCertFile));
    expect(out).toMatchObject({ passphrase: tls.clientKeyPassword, servername: 'localhost', rejectUnauthorized: true });
    expect(readTlsFiles({ keyPasswordFile: file('pass', `${tls.clientKeyPassword}\n`), certFile: tls.clientCertFile, keyFile: tls.clientKeyEncryptedFile }).passphrase).toBe(
      tls.clientKeyPassword,
    );
    expect(readTlsFiles({})).toEqual({});
  });

  it('errors name the YAML key and the path', () => {
    const missing = path.join(dir, 'ca-missing.pem');
    expect(() => readTlsFiles({ caFile: missing }, 'connections.s3')).toThrow(`connections.s3.ca_file: cannot read ${missing} (no such file (ENOENT))`);
    const notPem = file('not.pem', 'hello');
    expect(() => readTlsFiles({ caFile: notPem })).toThrow(`ca_file: ${notPem} holds no PEM certificate`);
    expect(() => readTlsFiles({ caFile: file('empty.pem', '') })).toThrow(/ca_file: .*empty\.pem is empty/);
    expect(() => readTlsFiles({ certFile: tls.clientCertFile, keyFile: tls.caFile })).toThrow(/key_file: .* holds no PEM private key/);
  });

  it('an encrypted key without or with a wrong passphrase, and a key of another certificate, are named', () => {
    expect(() => readTlsFiles({ certFile: tls.clientCertFile, keyFile: tls.clientKeyEncryptedFile })).toThrow(
      `key_file: ${tls.clientKeyEncryptedFile} is encrypted: set key_password`,
    );
    expect(() => readTlsFiles({ certFile: tls.clientCertFile, keyFile: tls.clientKeyEncryptedFile, keyPassword: 'wrong' })).toThrow(
      `key_file: ${tls.clientKeyEncryptedFile} cannot be decrypted with key_password`,
    );
    expect(() => readTlsFiles({ certFile: tls.serverCertFile, keyFile: tls.clientKeyFile })).toThrow(`key_file: ${tls.clientKeyFile} is not the key of ${tls.serverCertFile}`);
  });

  it('the settings schema wants cert and key together and one passphrase', () => {
    expect(tlsSettingsSchema.safeParse({ certFile: 'a' }).success).toBe(false);
    expect(tlsSettingsSchema.safeParse({ keyPassword: 'a', keyPasswordFile: 'b' }).success).toBe(false);
    expect(tlsSettingsSchema.safeParse({ caFile: 'a', servername: 'x' }).success).toBe(true);
  });
});

describe('describeTlsError', () => {
  const err = (code: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, ...extra });
  const host = '127.0.0.1:8443';

  it.each([
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'unable to verify the first certificate',
      'TLS: the certificate of 127.0.0.1:8443 is not trusted (unable to verify the first certificate): set ca_file to the CA that signed it',
    ],
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'self-signed certificate in certificate chain',
      'TLS: the certificate of 127.0.0.1:8443 is not trusted (self-signed certificate in certificate chain): set ca_file to the CA that signed it',
    ],
    [
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'unable to get local issuer certificate',
      'TLS: the certificate of 127.0.0.1:8443 is not trusted (unable to get local issuer certificate): set ca_file to the CA that signed it',
    ],
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'self-signed certificate',
      'TLS: the certificate of 127.0.0.1:8443 is self-signed and not trusted: set ca_file to that certificate (or the CA that should sign it)',
    ],
  ])('%s', (code, message, expected) => expect(describeTlsError(err(code, message), host)).toBe(expected));

  it('a wrong server name lists the names the certificate is for', () => {
    const e = err(
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Hostname/IP does not match certificate's altnames: Host: wrong.example. is not in the cert's altnames: IP Address:127.0.0.1, DNS:localhost",
      {
        host: 'wrong.example',
        cert: { subjectaltname: 'IP Address:127.0.0.1, DNS:localhost' },
      },
    );
    expect(describeTlsError(e, host)).toBe('TLS: the certificate of 127.0.0.1:8443 is for 127.0.0.1, localhost, not wrong.example');
    // the same from the message alone (a library that kept only the text)
    expect(describeTlsError(new Error(`request failed: ${e.message}`), host)).toBe('TLS: the certificate of 127.0.0.1:8443 is for 127.0.0.1, localhost, not wrong.example');
  });

  it('expired and not-yet-valid certificates, with their dates', () => {
    expect(describeTlsError(err('CERT_HAS_EXPIRED', 'certificate has expired', { cert: { valid_to: 'Jan  1 00:00:00 2026 GMT' } }), host)).toBe(
      'TLS: the certificate of 127.0.0.1:8443 has expired (valid until Jan  1 00:00:00 2026 GMT)',
    );
    expect(describeTlsError(err('CERT_NOT_YET_VALID', 'certificate is not yet valid'), host)).toBe('TLS: the certificate of 127.0.0.1:8443 is not valid yet: check the clocks');
  });

  it('handshake refusals, a plain-text port and a reset during the handshake', () => {
    expect(describeTlsError(err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'x', { reason: 'tlsv13 alert certificate required' }), '127.0.0.1:9096')).toBe(
      'TLS: 127.0.0.1:9096 refused the handshake (tlsv13 alert certificate required): it may want a (different) client certificate (cert_file, key_file)',
    );
    expect(describeTlsError(err('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'x', { reason: 'sslv3 alert bad certificate' }), host)).toMatch(
      /refused the handshake \(sslv3 alert bad certificate\)/,
    );
    expect(describeTlsError(err('ERR_SSL_WRONG_VERSION_NUMBER', 'x', { reason: 'wrong version number' }), '127.0.0.1:8081')).toBe(
      'TLS: 127.0.0.1:8081 does not answer TLS (wrong version number): is it a plain-text port? Use http:// or the TLS port',
    );
    expect(describeTlsError(err('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established'), host)).toMatch(
      /^TLS: 127\.0\.0\.1:8443 closed the connection during the TLS handshake/,
    );
  });

  it('finds the TLS error among causes and aggregated errors; anything else is not TLS', () => {
    const inner = err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate');
    expect(describeTlsError(new Error('fetch failed', { cause: inner }), host)).toMatch(/is not trusted/);
    expect(describeTlsError(new AggregateError([new Error('x'), inner]), host)).toMatch(/is not trusted/);
    expect(describeTlsError(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8443'), host)).toBeNull();
    expect(describeTlsError(err('ECONNRESET', 'socket hang up'), host)).toBeNull();
    expect(describeTlsError(undefined, host)).toBeNull();
  });

  it('hostPortOf adds the default port', () => {
    expect(hostPortOf('https://reg.example/apis')).toBe('reg.example:443');
    expect(hostPortOf('http://127.0.0.1:8081/x')).toBe('127.0.0.1:8081');
  });
});
