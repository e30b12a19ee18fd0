import type { Scenario } from '../lib/types';

export const scenario: Scenario = {
  id: '5',
  title: '5-failure-to-notification (being written)',
  goal: '—',
  async run() {
    throw new Error('not written yet');
  },
};
