/**
 * `pipelines.X.deadline`: after (positive), from (logical_date | queued_at), lookback; bad input
 * is a positioned error naming the field, and the spec carries the values in milliseconds.
 */
import { configSchema } from '../../../src/config/schema';
import { createPipelineCatalog } from '../../../src/engine/dag';
import { configIssues } from '../../helpers/config-issues';

const withDeadline = (deadline: unknown) => ({ pipelines: { p: { schedule: '0 * * * *', deadline, tasks: [{ id: 'a', operator: 'command' }] } } });

describe('pipeline deadline config', () => {
  it.each([
    [{ after: '-5m' }, 'pipelines.p.deadline.after: a deadline must be a positive duration, got "-5m" (negative)'],
    [{ after: -30 }, 'pipelines.p.deadline.after: a deadline must be a positive duration, got -30 (negative)'],
    [{ after: 0 }, 'pipelines.p.deadline.after: a deadline must be a positive duration, got 0'],
    [{ after: '0s' }, 'pipelines.p.deadline.after: a deadline must be a positive duration, got "0s"'],
    [{ after: '500ms' }, 'pipelines.p.deadline.after: "500ms" is shorter than the minimum of 1s'],
    [{ after: 'soon' }, 'pipelines.p.deadline.after: expected a duration'],
    [{ after: '45m', from: 'started_at' }, 'pipelines.p.deadline.from: '],
    [{ after: '45m', lookback: '10s' }, 'pipelines.p.deadline.lookback: "10s" is shorter than the minimum of 1m'],
    [{ after: '45m', at: '12:00' }, 'pipelines.p.deadline: '],
    [{ after: '2d' }, "pipelines.p.deadline.lookback: the lookback (1d) must be longer than the deadline's after (2d)"],
  ])('%j is rejected naming the field', (deadline, expected) => {
    const issues = configIssues(withDeadline(deadline));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(expected);
  });

  it('defaults from to logical_date and lookback to 24 h, in milliseconds on the spec; no deadline is null', () => {
    expect(configIssues(withDeadline({ after: '45m' }))).toEqual([]);
    const catalog = createPipelineCatalog(
      configSchema.parse({
        pipelines: {
          a: { schedule: '0 * * * *', deadline: { after: '45m' }, tasks: [{ id: 't', operator: 'command' }] },
          b: { schedule: '0 * * * *', deadline: { after: 90, from: 'queued_at', lookback: '2d' }, tasks: [{ id: 't', operator: 'command' }] },
          c: { tasks: [{ id: 't', operator: 'command' }] },
        },
      }),
    );
    expect(catalog.get('a').deadline).toEqual({ afterMs: 2_700_000, from: 'logical_date', lookbackMs: 86_400_000 });
    expect(catalog.get('b').deadline).toEqual({ afterMs: 90_000, from: 'queued_at', lookbackMs: 172_800_000 });
    expect(catalog.get('c').deadline).toBeNull();
  });
});
