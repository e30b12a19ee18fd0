import os from 'node:os';

/** `cli:<os user>`: who did it, as the audit trail records a CLI operation. */
export function cliActor(env: Readonly<Record<string, string | undefined>>): string {
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = env.USER ?? env.LOGNAME;
  }
  return `cli:${user || 'unknown'}`;
}
