/**
 * The parts of @grafana/grafana-foundation-sdk the generator uses.
 *
 * The SDK publishes CommonJS under `dist/`, reachable only through its `exports` map
 * (`@grafana/grafana-foundation-sdk/dashboard`, ...). The project's `moduleResolution: node10`
 * ignores `exports`, so the types are imported from the `dist/` paths (type-only, erased at
 * compile time) and the values are required through the public subpaths at run time.
 */
import type * as BarGauge from '@grafana/grafana-foundation-sdk/dist/bargauge';
import type * as Common from '@grafana/grafana-foundation-sdk/dist/common';
import type * as Dashboard from '@grafana/grafana-foundation-sdk/dist/dashboard';
import type * as Prometheus from '@grafana/grafana-foundation-sdk/dist/prometheus';
import type * as Stat from '@grafana/grafana-foundation-sdk/dist/stat';
import type * as StateTimeline from '@grafana/grafana-foundation-sdk/dist/statetimeline';
import type * as Table from '@grafana/grafana-foundation-sdk/dist/table';
import type * as TimeSeries from '@grafana/grafana-foundation-sdk/dist/timeseries';

/* eslint-disable @typescript-eslint/no-require-imports */
export const bargauge = require('@grafana/grafana-foundation-sdk/bargauge') as typeof BarGauge;
export const common = require('@grafana/grafana-foundation-sdk/common') as typeof Common;
export const dashboard = require('@grafana/grafana-foundation-sdk/dashboard') as typeof Dashboard;
export const prometheus = require('@grafana/grafana-foundation-sdk/prometheus') as typeof Prometheus;
export const stat = require('@grafana/grafana-foundation-sdk/stat') as typeof Stat;
export const statetimeline = require('@grafana/grafana-foundation-sdk/statetimeline') as typeof StateTimeline;
export const table = require('@grafana/grafana-foundation-sdk/table') as typeof Table;
export const timeseries = require('@grafana/grafana-foundation-sdk/timeseries') as typeof TimeSeries;

export type { Dashboard as DashboardTypes };
