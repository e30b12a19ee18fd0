/** A webhook receiver on loopback: records every POST with its arrival time. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  body: string;
}

export async function startWebhook(): Promise<{ url: string; received: Received[]; setStatus(code: number): void; close(): Promise<void> }> {
  const received: Received[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    setStatus: (code: number) => {
      status = code;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
