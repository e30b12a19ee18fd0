import { endpoints, ports } from '../../../stack/endpoints';
import { JOB_FILE, PIPELINE_APP_NAME, pipeline, pipelineSubmitSpec, sparkAvroJar } from '../../../stack/services/pipeline';

function confOf(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a === '--conf') {
      const [k, ...v] = args[i + 1]!.split('=');
      out[k!] = v.join('=');
    }
  });
  return out;
}

describe('pipeline stack service', () => {
  it('submits the job by name to the stack master in client mode with the Prometheus servlet on the driver UI port', () => {
    const spec = pipelineSubmitSpec();
    expect(spec.command).toMatch(/bin\/spark-submit$/);
    expect(spec.args[spec.args.indexOf('--master') + 1]).toBe(endpoints.sparkMaster);
    expect(spec.args[spec.args.indexOf('--name') + 1]).toBe(PIPELINE_APP_NAME);
    expect(PIPELINE_APP_NAME).toBe('harmful-domains-streaming');
    expect(spec.args[spec.args.length - 1]).toBe(JOB_FILE);
    const conf = confOf(spec.args);
    expect(conf).toMatchObject({
      'spark.submit.deployMode': 'client',
      'spark.cores.max': '1',
      'spark.ui.port': String(ports.sparkDriverUi),
      'spark.ui.prometheus.enabled': 'true',
      'spark.sql.streaming.metricsEnabled': 'true',
      'spark.metrics.conf.*.sink.prometheusServlet.class': 'org.apache.spark.metrics.sink.PrometheusServlet',
      'spark.metrics.conf.*.sink.prometheusServlet.path': '/metrics/prometheus',
    });
    expect(conf['spark.executor.extraClassPath']).toContain(sparkAvroJar());
    expect(spec.env?.BRONZE_PATH).toBe('s3a://delta-lake/bronze');
    expect(spec.env?.CHECKPOINT_ROOT).toBe('s3a://delta-lake/_checkpoints');
    expect(spec.env?.PIPELINE_TOPIC).toBe('harmful-domains');
  });

  it('keeps S3 secrets out of argv (the stack log and ps show it)', () => {
    const spec = pipelineSubmitSpec();
    expect(spec.args.join(' ')).not.toContain(endpoints.s3SecretAccessKey);
    expect(spec.env?.AWS_SECRET_ACCESS_KEY).toBe(endpoints.s3SecretAccessKey);
  });

  it('lets tests move topic, tables, checkpoints, trigger and port', () => {
    const spec = pipelineSubmitSpec({ appName: 'x', topic: 't', bronzePath: 'b', silverPath: 's', goldPath: 'g', checkpointRoot: 'c', triggerSeconds: 3, uiPort: 4999 });
    expect(spec.env).toMatchObject({ PIPELINE_TOPIC: 't', BRONZE_PATH: 'b', SILVER_PATH: 's', GOLD_PATH: 'g', CHECKPOINT_ROOT: 'c', TRIGGER_SECONDS: '3', SPARK_APP_NAME: 'x' });
    expect(confOf(spec.args)['spark.ui.port']).toBe('4999');
  });

  it('is optional, binds the driver UI port and starts after Kafka, S3 and a Spark worker', () => {
    expect(pipeline.optional).toBe(true);
    expect(pipeline.ports()).toEqual([{ name: 'driver-ui', port: ports.sparkDriverUi }]);
    expect(pipeline.dependsOn).toEqual(['kafka', 's3', 'spark-worker']);
  });
});
