/** Slack incoming webhook: Block Kit message rendered by templates.renderSlack. */
import type { AlertSink } from '../../src/protocol';
import type { SlackSinkConfig } from '../config';
import { renderSlack } from '../templates';
import { postJson } from './http';

export function createSlackSink(name: string, config: SlackSinkConfig): AlertSink {
  const options = { ...(config.channel ? { channel: config.channel } : {}), ...(config.username ? { username: config.username } : {}) };
  return {
    name,
    type: 'slack',
    async deliver(notification, signal) {
      await postJson({ what: `slack sink "${name}"`, url: config.url, body: JSON.stringify(renderSlack(notification, options)), timeoutMs: config.timeout, signal });
    },
  };
}
