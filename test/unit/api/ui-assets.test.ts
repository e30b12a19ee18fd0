import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createDaemon, type Daemon } from '../../../src/daemon';
import { silentLogger } from '../../../src/shared/logger';

const CONFIG = `
server: { port: 0 }
store: { path: state.db }
connections:
  kafka: { brokers: "127.0.0.1:9092" }
alerts:
  sinks: { log: { type: log } }
  route: { sinks: [log] }
`;

describe("the web UI's files, read and gzipped at the first request for them", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sup-ui-assets-'));
  const ui = path.join(__dirname, '..', '..', '..', 'src', 'ui');
  let daemon: Daemon;

  beforeAll(async () => {
    fs.writeFileSync(path.join(dir, 'supervisor.yaml'), CONFIG);
    daemon = await createDaemon({ configFile: path.join(dir, 'supervisor.yaml'), env: {}, logger: silentLogger, port: 0 });
  });
  afterAll(async () => {
    await daemon?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page and each asset as on disk, gzipped when asked, with a stable etag', async () => {
    const page = await daemon.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toBe(fs.readFileSync(path.join(ui, 'index.html'), 'utf8'));
    const css = await daemon.app.inject({ method: 'GET', url: '/ui/assets/app.css', headers: { 'accept-encoding': 'gzip' } });
    expect({ status: css.statusCode, encoding: css.headers['content-encoding'] }).toEqual({ status: 200, encoding: 'gzip' });
    expect(gunzipSync(css.rawPayload).toString('utf8')).toBe(fs.readFileSync(path.join(ui, 'app.css'), 'utf8'));
    const again = await daemon.app.inject({ method: 'GET', url: '/ui/assets/app.css', headers: { 'if-none-match': String(css.headers.etag) } });
    expect(again.statusCode).toBe(304);
    const missing = await daemon.app.inject({ method: 'GET', url: '/ui/assets/no-such.js' });
    expect({ status: missing.statusCode, body: missing.json() }).toEqual({ status: 404, body: { code: 'SUP_ERR_NOT_FOUND', message: 'path: no UI asset "no-such.js"' } });
  });
});
