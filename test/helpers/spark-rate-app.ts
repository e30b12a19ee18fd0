import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { sparkSubmitSpec } from '../../stack/spark';

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const RATE_STREAM = `
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.sparkContext.setLogLevel("WARN")
q = (spark.readStream.format("rate").option("rowsPerSecond", sys.argv[2]).load()
     .writeStream.format("noop").queryName(sys.argv[1]).trigger(processingTime="2 seconds").start())
q.awaitTermination()
`;

export interface RateApp {
  child: ChildProcess;
  driverPort: number;
  /** http://127.0.0.1:<driverPort> */
  driverUi: string;
}

/**
 * Submits a real Structured Streaming query (rate source → noop sink) to the stack's master,
 * with the driver's Prometheus servlet on a free port, in its own process group (kill -pid).
 */
export async function startRateApp(params: { workDir: string; appName: string; queryName: string; rowsPerSecond?: number }): Promise<RateApp> {
  const driverPort = await freePort();
  const script = path.join(params.workDir, 'rate_stream.py');
  fs.writeFileSync(script, RATE_STREAM);
  const spec = sparkSubmitSpec({
    script,
    args: [params.queryName, String(params.rowsPerSecond ?? 10)],
    name: params.appName,
    withJars: false,
    cwd: params.workDir,
    conf: {
      'spark.ui.port': String(driverPort),
      'spark.port.maxRetries': '0',
      'spark.cores.max': '1',
      'spark.executor.memory': '512m',
      'spark.driver.memory': '512m',
      'spark.sql.shuffle.partitions': '1',
      'spark.sql.streaming.metricsEnabled': 'true',
      'spark.ui.prometheus.enabled': 'true',
      'spark.metrics.conf.*.sink.prometheusServlet.class': 'org.apache.spark.metrics.sink.PrometheusServlet',
      'spark.metrics.conf.*.sink.prometheusServlet.path': '/metrics/prometheus',
    },
  });
  const log = fs.openSync(path.join(params.workDir, 'spark-submit.log'), 'a');
  const child = spawn(spec.command, spec.args, { env: spec.env, cwd: params.workDir, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return { child, driverPort, driverUi: `http://127.0.0.1:${driverPort}` };
}

/** Stops an app this helper started: SIGTERM to its process group, SIGKILL after 20 s. */
export async function stopRateApp(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.pid === undefined || c.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  try {
    process.kill(-c.pid, 'SIGTERM'); // the spark-submit JVM and its Python driver
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 20_000);
  await exited;
  clearTimeout(timer);
}
