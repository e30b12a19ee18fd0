/** The Java runtime for the JVM services: `JAVA_HOME` if set, else `java` on PATH (Kafka 4 and Spark 4 need 17+). */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export function javaBin(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

let checked = false;
export function checkJava(): void {
  if (checked) return;
  const res = spawnSync(javaBin(), ['-version'], { encoding: 'utf8' });
  if (res.error) {
    throw new Error(`Java 17+ is required (tried ${javaBin()}): ${res.error.message}. Install it with \`apt-get install -y openjdk-17-jre-headless\`.`);
  }
  const out = `${res.stderr}${res.stdout}`;
  const m = /version "(\d+)/.exec(out);
  if (!m || Number(m[1]) < 17) throw new Error(`Java 17+ is required; ${javaBin()} reports: ${out.split('\n')[0]}`);
  checked = true;
}
