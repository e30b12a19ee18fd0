/** Label selectors for the overview dashboard's template variables. */
export const check = 'check=~"$check"';
export const pipeline = 'pipeline=~"$pipeline"';
export const group = 'group=~"$group"';

/** Keep only the supervisor's own process_* / nodejs_* series (Prometheus and Alertmanager export process_* too). */
export const SUPERVISOR_ONLY = 'and on (job, instance) supervisor_build_info';
