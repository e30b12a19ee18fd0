import net from 'node:net';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createReachability$, tryConnect, type ReachabilityEvent } from '../../../streams/reachability';

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => s.destroy());
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}
const close = (srv: net.Server): Promise<void> => new Promise((r) => srv.close(() => r()));

describe('reachability (real TCP on loopback)', () => {
  it('tryConnect answers null for a listening port and the error code for a closed one', async () => {
    const srv = await listen();
    const { port } = srv.address() as net.AddressInfo;
    expect(await tryConnect(`127.0.0.1:${port}`, 500)).toBeNull();
    await close(srv);
    expect(await tryConnect(`127.0.0.1:${port}`, 500)).toBe('ECONNREFUSED');
  });

  it('emits the first state, then only confirmed changes: down after two refusals, up after one success', async () => {
    const srv = await listen();
    const { port } = srv.address() as net.AddressInfo;
    const target = `127.0.0.1:${port}`;
    const events: ReachabilityEvent[] = [];
    const sub = createReachability$({ targets: [target], intervalMs: 50, confirmations: 2 }).subscribe((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 200));
    expect(events.map((e) => e.reachable)).toEqual([true]);
    await close(srv);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.map((e) => e.reachable)).toEqual([true, false]);
    expect(events[1]).toMatchObject({ target, error: 'ECONNREFUSED' });
    const again = await listen(port);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.map((e) => e.reachable)).toEqual([true, false, true]);
    sub.unsubscribe();
    await close(again);
  });

  it('reports an endpoint that never listened as unreachable at once', async () => {
    const srv = await listen();
    const { port } = srv.address() as net.AddressInfo;
    await close(srv);
    const first = await firstValueFrom(createReachability$({ targets: [`127.0.0.1:${port}`], intervalMs: 50 }).pipe(take(1), toArray()));
    expect(first).toEqual([expect.objectContaining({ reachable: false })]);
  });
});
