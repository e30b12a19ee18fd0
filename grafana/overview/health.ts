/** Overview row "Health": status of every check, whether the probes answer, how long they take. */
import { CHECK_STATUS_MAPPINGS, CHECK_STATUS_THRESHOLDS } from '../mappings';
import { query, stateTimelinePanel, statPanel, timeseriesPanel, type Section } from '../panels';
import { check } from './selectors';

export function healthSection(): Section {
  return {
    title: 'Health',
    panels: [
      statPanel({
        title: 'Check status',
        description: 'Latest status of every check (supervisor_check_status).',
        size: { w: 24, h: 4 },
        targets: [query(`max by (check) (supervisor_check_status{${check}})`, { legend: '{{check}}', instant: true })],
        mappings: CHECK_STATUS_MAPPINGS,
        thresholds: CHECK_STATUS_THRESHOLDS,
        colorMode: 'background',
        graphMode: 'none',
        textMode: 'value_and_name',
      }),
      stateTimelinePanel({
        title: 'Check status over time',
        description: 'Status history per check: OK, WARN, UNKNOWN (the probe could not run), CRIT.',
        size: { w: 16, h: 8 },
        targets: [query(`max by (check) (supervisor_check_status{${check}})`, { legend: '{{check}}' })],
        mappings: CHECK_STATUS_MAPPINGS,
        thresholds: CHECK_STATUS_THRESHOLDS,
        showValue: 'never',
      }),
      statPanel({
        title: 'Checks answering',
        description: 'Share of checks whose probe could run and get an answer (supervisor_check_up).',
        size: { w: 4, h: 8 },
        targets: [query(`sum(supervisor_check_up{${check}}) / count(supervisor_check_up{${check}})`, { legend: 'up' })],
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: [
          [null, 'red'],
          [0.99, 'green'],
        ],
        graphMode: 'area',
      }),
      statPanel({
        title: 'Supervisor version',
        description: 'supervisor_build_info: the running version and Node.js version.',
        size: { w: 4, h: 8 },
        targets: [query('max by (version, nodejs) (supervisor_build_info)', { legend: '{{version}} (node {{nodejs}})', instant: true })],
        textMode: 'name',
        colorMode: 'none',
        graphMode: 'none',
      }),
      timeseriesPanel({
        title: 'Check duration',
        description: 'How long the last run of each check took.',
        size: { w: 12, h: 7 },
        targets: [query(`max by (check) (supervisor_check_duration_seconds{${check}})`, { legend: '{{check}}' })],
        unit: 's',
        legendCalcs: ['mean', 'max'],
      }),
      timeseriesPanel({
        title: 'Time since last check run',
        description: 'Seconds since each check last finished; a growing line means its scheduler is stuck.',
        size: { w: 12, h: 7 },
        targets: [query(`time() - max by (check) (supervisor_check_last_run_timestamp_seconds{${check}})`, { legend: '{{check}}' })],
        unit: 's',
        legendCalcs: ['lastNotNull', 'max'],
      }),
    ],
  };
}
