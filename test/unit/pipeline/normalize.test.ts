import { normalizeDomain, refang } from '../../../stack/pipeline/ingestion/normalize';

function ok(input: string): string {
  const r = normalizeDomain(input);
  if (!r.ok) throw new Error(`${JSON.stringify(input)} rejected: ${r.reason}`);
  return r.domain;
}
function reason(input: string): string {
  const r = normalizeDomain(input);
  if (r.ok) throw new Error(`${JSON.stringify(input)} accepted as ${r.domain}`);
  return r.reason;
}

describe('normalizeDomain', () => {
  it('lowercases and trims', () => {
    expect(ok('  Example.COM ')).toBe('example.com');
  });
  it('strips trailing dots', () => {
    expect(ok('example.com.')).toBe('example.com');
    expect(ok('example.com..')).toBe('example.com');
  });
  it('converts IDN to punycode', () => {
    expect(ok('bücher.de')).toBe('xn--bcher-kva.de');
    expect(ok('日本.jp')).toBe('xn--wgv71a.jp');
    expect(ok('faß.de')).toBe('xn--fa-hia.de');
    expect(ok('BÜCHER.DE')).toBe('xn--bcher-kva.de');
  });
  it('keeps valid punycode and rejects invalid punycode', () => {
    expect(ok('xn--bcher-kva.de')).toBe('xn--bcher-kva.de');
    expect(reason('xn--zz.com')).toBe('bad_idna');
  });
  it('takes the host of URLs and strips ports, user info, paths', () => {
    expect(ok('https://Login.Example.com:8443/path?q=1#f')).toBe('login.example.com');
    expect(ok('http://user:pw@evil.test/')).toBe('evil.test');
    expect(ok('ftp://files.example.org')).toBe('files.example.org');
    expect(ok('evil.test:8080/x')).toBe('evil.test');
    expect(ok('evil.test/path/only')).toBe('evil.test');
    expect(ok('https://münchen.example/x')).toBe('xn--mnchen-3ya.example');
    expect(ok('http://example.com./')).toBe('example.com');
  });
  it('refangs defanged indicators', () => {
    expect(refang('hxxps://bad[.]example[.]com')).toBe('https://bad.example.com');
    expect(ok('hxxp://bad[.]example(.)com/x')).toBe('bad.example.com');
    expect(ok('bad[dot]example.com')).toBe('bad.example.com');
  });
  it('removes a leading wildcard', () => {
    expect(ok('*.wild.example')).toBe('wild.example');
  });
  it('rejects IP addresses, bracketed or not, with or without port', () => {
    expect(reason('1.2.3.4')).toBe('ip_address');
    expect(reason('http://10.0.0.1:8080/a')).toBe('ip_address');
    expect(reason('http://[2001:db8::1]/login')).toBe('ip_address');
    expect(reason('2001:db8::1')).toBe('ip_address');
    expect(reason('[::1]:443')).toBe('ip_address');
    expect(reason('1.2.3.4.5')).toBe('numeric_tld');
  });
  it('rejects names breaking RFC 1035/1123 label rules', () => {
    expect(reason('-bad.example')).toBe('bad_label');
    expect(reason('bad-.example')).toBe('bad_label');
    expect(reason('under_score.example')).toBe('bad_label');
    expect(reason('a..b.example')).toBe('bad_label');
    expect(reason('.leading.example')).toBe('bad_label');
    expect(reason(`${'a'.repeat(64)}.example`)).toBe('bad_label');
    expect(ok(`${'a'.repeat(63)}.example`)).toHaveLength(71);
    expect(reason(`${Array.from({ length: 64 }, () => 'abc').join('.')}.com`)).toBe('too_long');
    expect(reason('spaces in.example')).toBe('bad_label');
    expect(reason('späces in.example')).toBe('bad_idna');
  });
  it('rejects single labels and empty input', () => {
    expect(reason('localhost')).toBe('single_label');
    expect(reason('   ')).toBe('empty');
    expect(reason('http://')).toBe('bad_url');
    expect(reason('evil.test:port')).toBe('bad_url');
  });
  it('accepts digits, inner hyphens and numeric labels that are not the TLD', () => {
    expect(ok('3com.example')).toBe('3com.example');
    expect(ok('ab--cd.example')).toBe('ab--cd.example');
    expect(ok('123.example')).toBe('123.example');
  });
});
