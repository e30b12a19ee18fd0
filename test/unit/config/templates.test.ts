/** Issue 13, item 9: no template reaches the prototype — config `{{ var.x }}` (loader tests) and alert message templates. */
import { renderTemplate } from '../../../alerts/templates';

describe('alert message templates', () => {
  it.each(['__proto__', 'constructor', 'labels.constructor', 'labels.__proto__', 'labels.toString', 'check.length', 'hasOwnProperty'])('{{ %s }} renders empty', (name) => {
    expect(renderTemplate(`[{{ ${name} }}]`, { check: 'kafka', labels: { topic: 't' } })).toBe('[]');
  });

  it('still renders own values and labels', () => {
    expect(renderTemplate('{{ check }} on {{ labels.topic }}: {{ value }}', { check: 'kafka', labels: { topic: 't' }, value: 1.234 })).toBe('kafka on t: 1.23');
  });
});
