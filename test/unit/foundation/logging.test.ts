import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/logging';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  return { stream, text: () => out };
}

describe('logger', () => {
  it('writes JSON lines with secrets redacted (a non-TTY destination in auto format)', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'info', format: 'auto', destination: stream });
    logger.info({ password: 'hunter2', headers: { authorization: 'Bearer x' }, check: 'kafka' }, 'hello');
    logger.debug('not at info');
    await new Promise((r) => setImmediate(r));
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'hello', check: 'kafka', password: '[redacted]', headers: { authorization: '[redacted]' } });
    expect(text()).not.toContain('hunter2');
  });

  it('writes human-readable lines in pretty format, still redacted', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'info', format: 'pretty', destination: stream });
    logger.warn({ secret: 's3cr3t' }, 'broker unreachable');
    await new Promise((r) => setImmediate(r));
    expect(text()).toMatch(/WARN.*broker unreachable/);
    expect(text()).not.toContain('s3cr3t');
    expect(() => JSON.parse(text().trim())).toThrow();
  });
});
