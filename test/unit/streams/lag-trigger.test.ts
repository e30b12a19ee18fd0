import { INITIAL_LAG_STATE, stepLagTrigger, type LagTriggerState } from '../../../streams/lag-trigger';

describe('lag trigger state machine', () => {
  const rule = { maxLag: 10, forMs: 60_000, cooldownMs: 300_000 };
  const run = (obs: Array<[number, number | null]>) => {
    let state: LagTriggerState = INITIAL_LAG_STATE;
    const fired: number[] = [];
    for (const [t, lag] of obs) {
      const r = stepLagTrigger(state, rule, lag, t);
      state = r.state;
      if (r.fire) fired.push(t);
    }
    return fired;
  };
  it('fires once the lag stayed ≤ max for the duration', () => {
    expect(
      run([
        [0, 50],
        [10_000, 5],
        [40_000, 8],
        [70_000, 3],
        [80_000, 0],
      ]),
    ).toEqual([70_000]);
  });
  it('a spike above max restarts the duration; an unmeasurable lag too', () => {
    expect(
      run([
        [0, 5],
        [50_000, 20],
        [60_000, 5],
        [100_000, null],
        [110_000, 5],
        [169_000, 5],
        [170_000, 5],
      ]),
    ).toEqual([170_000]);
  });
  it('fires at most once per episode and per cool-down', () => {
    expect(
      run([
        [0, 0],
        [60_000, 0],
        [120_000, 0],
        [130_000, 50],
        [140_000, 0],
        [200_000, 0],
        [360_000, 0],
      ]),
    ).toEqual([60_000, 360_000]);
  });
});
