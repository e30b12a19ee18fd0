/**
 * The shipped default config (config/supervisor.yaml) with only what a bench must change:
 * Kafka pointed at the bench's private broker and the alert sinks replaced by one webhook.
 * Check intervals, alert rules and every other setting stay the defaults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './supervisor';

export function defaultConfigWith(opts: { kafkaServers?: string; webhookUrl?: string; extraYaml?: string; kafkaCheckInterval?: string; alertRulesYaml?: string }): string {
  let text = fs.readFileSync(path.join(REPO, 'config', 'supervisor.yaml'), 'utf8');
  if (opts.kafkaServers) {
    const before = text;
    text = text.replace(/^(\s*kafka_servers:\s*).*$/m, `$1${opts.kafkaServers}`);
    if (text === before) throw new Error('config/supervisor.yaml has no variables.kafka_servers line to override');
  }
  if (opts.kafkaCheckInterval) {
    const before = text;
    text = text.replace(/(\n {2}kafka:\n {4}kind: kafka_cluster\n {4}interval: )\S+/, `$1${opts.kafkaCheckInterval}`);
    if (text === before) throw new Error('config/supervisor.yaml: checks.kafka.interval not found');
  }
  if (opts.webhookUrl) {
    const i = text.search(/^alerts:\s*$/m);
    if (i < 0) throw new Error('config/supervisor.yaml has no top-level alerts: section');
    text = text.slice(0, i) + `alerts:\n  sinks:\n    webhook:\n      type: webhook\n      url: ${opts.webhookUrl}\n  route:\n    sinks: [webhook]\n`;
  }
  if (opts.extraYaml) text += opts.extraYaml;
  return text;
}

export function writeBenchConfig(dir: string, name: string, text: string): string {
  fs.mkdirSync(dir, { recursive: true });
  // Relative paths in the default config (the ingestion's sources.yaml) resolve against config/.
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, text.replace(/config_path: \.\.\/stack\//g, `config_path: ${path.join(REPO, 'stack')}/`));
  return file;
}
