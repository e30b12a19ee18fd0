/**
 * A task attempt's log: lines appended in memory, capped at `maxBytes` with the TAIL kept (the
 * end of a failing process's output is what explains it), the dropped byte count recorded.
 */
export interface LogBuffer {
  append(line: string): void;
  content(): string;
  truncatedBytes(): number;
  bytes(): number;
}

export function createLogBuffer(maxBytes: number): LogBuffer {
  const lines: string[] = [];
  let head = 0;
  let size = 0;
  let truncated = 0;
  return {
    append(line) {
      // One line larger than the cap keeps its end.
      let text = line.endsWith('\n') ? line : `${line}\n`;
      if (Buffer.byteLength(text) > maxBytes) {
        const buf = Buffer.from(text);
        truncated += buf.length - maxBytes;
        text = buf.subarray(buf.length - maxBytes).toString('utf8');
      }
      lines.push(text);
      size += Buffer.byteLength(text);
      while (size > maxBytes && head < lines.length) {
        const dropped = Buffer.byteLength(lines[head]!);
        lines[head] = '';
        head += 1;
        size -= dropped;
        truncated += dropped;
      }
      if (head > 1024 && head > lines.length / 2) {
        lines.splice(0, head);
        head = 0;
      }
    },
    content() {
      const body = lines.slice(head).join('');
      return truncated > 0 ? `[… ${truncated} bytes truncated, tail kept …]\n${body}` : body;
    },
    truncatedBytes: () => truncated,
    bytes: () => size,
  };
}
