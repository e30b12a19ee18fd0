import type { Scenario } from '../lib/types';

export const scenario: Scenario = {
  id: '3',
  title: '3-lag-at-scale (being written)',
  goal: '—',
  async run() {
    throw new Error('not written yet');
  },
};
