import type { Scenario } from '../lib/types';

export const scenario: Scenario = {
  id: '2',
  title: '2-footprint (being written)',
  goal: '—',
  async run() {
    throw new Error('not written yet');
  },
};
