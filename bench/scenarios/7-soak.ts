import type { Scenario } from '../lib/types';

export const scenario: Scenario = {
  id: '7',
  title: '7-soak (being written)',
  goal: '—',
  async run() {
    throw new Error('not written yet');
  },
};
