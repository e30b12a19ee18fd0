"""
Harmful-domains streaming job (the reference pipeline's Spark side).

Kafka topic (Avro, Confluent wire format) -> bronze -> silver -> gold Delta tables, three
named Structured Streaming queries on one SparkSession (appName `harmful-domains-streaming`,
the job name the supervisor's Spark check looks for):

  bronze  Kafka -> Delta append of the raw records (key, value bytes, topic, partition,
          offset, timestamp). Checkpoint <checkpoint-root>/bronze.
  silver  bronze (Delta stream) -> strip the 5-byte Confluent header, `from_avro` with
          stack/pipeline/schemas/harmful_domain.avsc, normalise (trim, lowercase, trailing
          dots, host-name regex), de-duplicate by (domain, source) with a MERGE: one row per
          domain and source, first_seen = earliest, last_ingested_at = latest, seen_count.
          Change data feed enabled so gold can follow it. Checkpoint <root>/silver.
  gold    silver change feed -> recompute counts per (source, category) from the silver
          snapshot and overwrite the gold table. Checkpoint <root>/gold.

Every setting has an environment variable and a command-line flag (flags win) so tests can
run the job against fresh table prefixes, topics and ports. S3 credentials come from the
environment only (never argv). Metrics: the driver UI's Prometheus servlet at
/metrics/prometheus (streaming query metrics included) and /metrics/executors/prometheus.
A progress line per micro-batch goes to stdout as JSON, and optionally to --progress-file.
"""

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time

from pyspark.sql import SparkSession, functions as F
from pyspark.sql.avro.functions import from_avro
from pyspark.sql.streaming import StreamingQueryListener
from delta.tables import DeltaTable

APP_NAME = "harmful-domains-streaming"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "schemas", "harmful_domain.avsc")
HOST_RE = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


def env(name, default):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def parse_args(argv):
    p = argparse.ArgumentParser(prog="harmful_domains_stream", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-servers", default=env("KAFKA_SERVERS", "127.0.0.1:9092"))
    p.add_argument("--topic", default=env("PIPELINE_TOPIC", "harmful-domains"))
    p.add_argument("--starting-offsets", default=env("PIPELINE_STARTING_OFFSETS", "earliest"))
    p.add_argument("--bronze-path", default=env("BRONZE_PATH", "s3a://delta-lake/bronze"))
    p.add_argument("--silver-path", default=env("SILVER_PATH", "s3a://delta-lake/silver"))
    p.add_argument("--gold-path", default=env("GOLD_PATH", "s3a://delta-lake/gold"))
    p.add_argument("--checkpoint-root", default=env("CHECKPOINT_ROOT", "s3a://delta-lake/_checkpoints"))
    p.add_argument("--trigger-seconds", type=int, default=int(env("TRIGGER_SECONDS", "10")))
    p.add_argument("--schema-file", default=env("AVRO_SCHEMA_FILE", DEFAULT_SCHEMA))
    p.add_argument("--s3-endpoint", default=env("S3_ENDPOINT", "http://127.0.0.1:9000"))
    p.add_argument("--progress-file", default=env("PROGRESS_FILE", ""))
    p.add_argument("--app-name", default=env("SPARK_APP_NAME", APP_NAME))
    p.add_argument(
        "--commit-group",
        default=env("COMMIT_GROUP", ""),
        help="consumer group the bronze query's processed offsets are mirrored to after each micro-batch "
        "(for lag monitoring; the checkpoint stays the source of truth); default: the app name; 'none' turns it off",
    )
    args = p.parse_args(argv)
    args.commit_group = args.commit_group or args.app_name
    if args.trigger_seconds < 1:
        p.error("--trigger-seconds must be >= 1")
    if not os.path.isfile(args.schema_file):
        p.error("--schema-file %s does not exist" % args.schema_file)
    return args


KAFKA_SASL_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def jaas_quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kafka_security_properties(environ=None):
    """
    The Kafka client properties of the job's source and offset mirror, from the same KAFKA_*
    environment the supervisor hands the ingestion service (src/shared/kafka-connection.ts
    kafkaEnvFor): KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
    KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE / KAFKA_SSL_KEY_FILE (PEM, mutual
    TLS), KAFKA_SSL_KEY_PASSWORD. OAUTHBEARER is not offered to the job (its client would need
    Kafka's login callback handler and an allowed token URL): the job then fails at start, naming it.
    """
    environ = os.environ if environ is None else environ
    get = lambda name: environ.get(name) or None  # noqa: E731 - a one-line lookup
    protocol = (get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError("KAFKA_SECURITY_PROTOCOL=%s: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL" % protocol)
    props = {}
    if protocol == "PLAINTEXT":
        return props
    props["security.protocol"] = protocol
    if protocol in ("SSL", "SASL_SSL"):
        ca = get("KAFKA_SSL_CA_FILE")
        if ca:
            props["ssl.truststore.type"] = "PEM"
            props["ssl.truststore.location"] = ca
        cert, key = get("KAFKA_SSL_CERT_FILE"), get("KAFKA_SSL_KEY_FILE")
        if cert and key:
            # Kafka's PEM keystore takes the key and the certificate chain inline
            with open(key) as k, open(cert) as c:
                props["ssl.keystore.type"] = "PEM"
                props["ssl.keystore.key"] = k.read()
                props["ssl.keystore.certificate.chain"] = c.read()
            if get("KAFKA_SSL_KEY_PASSWORD"):
                props["ssl.key.password"] = get("KAFKA_SSL_KEY_PASSWORD")
        if get("KAFKA_SSL_SERVERNAME"):
            raise ValueError("KAFKA_SSL_SERVERNAME is not supported by the Spark job (Kafka's Java client verifies the broker's own host name)")
    if protocol.startswith("SASL_"):
        mechanism = (get("KAFKA_SASL_MECHANISM") or "").upper()
        if mechanism not in KAFKA_SASL_MODULES:
            raise ValueError("KAFKA_SASL_MECHANISM=%s: the Spark job takes PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" % (mechanism or "(unset)"))
        user, password = get("KAFKA_SASL_USERNAME"), get("KAFKA_SASL_PASSWORD")
        if not user or password is None:
            raise ValueError("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed with %s" % mechanism)
        props["sasl.mechanism"] = mechanism
        props["sasl.jaas.config"] = "%s required username=%s password=%s;" % (KAFKA_SASL_MODULES[mechanism], jaas_quote(user), jaas_quote(password))
    return props


def log(event, **fields):
    """One JSON line per event on stdout (the service's log file)."""
    fields.update({"event": event, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(json.dumps(fields, default=str), flush=True)


def build_session(args):
    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    b = (
        SparkSession.builder.appName(args.app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", env("SPARK_SHUFFLE_PARTITIONS", "2"))
        .config("spark.sql.streaming.metricsEnabled", "true")
        .config("spark.ui.prometheus.enabled", "true")
        .config("spark.metrics.conf.*.sink.prometheusServlet.class", "org.apache.spark.metrics.sink.PrometheusServlet")
        .config("spark.metrics.conf.*.sink.prometheusServlet.path", "/metrics/prometheus")
        .config("spark.metrics.namespace", "harmful_domains")
        .config("spark.hadoop.fs.s3a.endpoint", args.s3_endpoint)
        .config("spark.hadoop.fs.s3a.path.style.access", "true")
        .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(args.s3_endpoint.startswith("https")).lower())
        .config("spark.hadoop.fs.s3a.endpoint.region", env("AWS_REGION", "us-east-1"))
        .config("spark.hadoop.fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
        .config("spark.hadoop.fs.s3a.fast.upload", "true")
        .config("spark.databricks.delta.properties.defaults.enableChangeDataFeed", "false")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
    )
    if access_key:
        b = b.config("spark.hadoop.fs.s3a.access.key", access_key).config("spark.hadoop.fs.s3a.secret.key", secret_key)
        b = b.config(
            "spark.hadoop.fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
    return b.getOrCreate()


class ProgressLogger(StreamingQueryListener):
    """Prints one JSON line per micro-batch; keeps the latest progress per query in a file."""

    def __init__(self, progress_file):
        super().__init__()
        self.progress_file = progress_file
        self.latest = {}

    def onQueryStarted(self, event):
        log("query_started", query=event.name, id=str(event.id), runId=str(event.runId))

    def onQueryProgress(self, event):
        p = event.progress
        line = {
            "query": p.name,
            "batchId": p.batchId,
            "timestamp": p.timestamp,
            "numInputRows": p.numInputRows,
            "inputRowsPerSecond": p.inputRowsPerSecond,
            "processedRowsPerSecond": p.processedRowsPerSecond,
            "batchDurationMs": (p.durationMs or {}).get("triggerExecution"),
        }
        log("query_progress", **line)
        if self.progress_file:
            self.latest[p.name] = line
            directory = os.path.dirname(os.path.abspath(self.progress_file))
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".progress-")
            with os.fdopen(fd, "w") as f:
                json.dump({"app": APP_NAME, "queries": self.latest}, f)
            os.replace(tmp, self.progress_file)

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        log("query_terminated", id=str(event.id), exception=event.exception)


class KafkaOffsetMirror(StreamingQueryListener):
    """Commits the Kafka offsets a query has processed to a consumer group after each micro-batch.

    Structured Streaming keeps its Kafka offsets in its checkpoint, not in Kafka, so lag tools
    (the supervisor's consumer_lag check, kafka-consumer-groups, Burrow) see no group for it.
    This mirrors the end offsets of every finished micro-batch into `group` with the
    kafka-clients KafkaConsumer already on the driver's class path (no assignment, manual
    commits only: a "simple" group that never joins). It is for monitoring only; a failed
    commit is logged and retried with the next batch and never stops the query.
    """

    def __init__(self, spark, bootstrap_servers, group, query_name):
        super().__init__()
        self.jvm = spark._jvm
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.query_name = query_name
        self.consumer = None
        self.failed = False

    def _consumer(self):
        if self.consumer is None:
            props = self.jvm.java.util.Properties()
            for key, value in (
                ("bootstrap.servers", self.bootstrap_servers),
                ("group.id", self.group),
                ("client.id", self.group + "-offset-mirror"),
                ("enable.auto.commit", "false"),
                ("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer"),
                ("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer"),
            ):
                props.setProperty(key, value)
            for key, value in kafka_security_properties().items():
                props.setProperty(key, value)
            self.consumer = self.jvm.org.apache.kafka.clients.consumer.KafkaConsumer(props)
        return self.consumer

    def _close(self):
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception:  # noqa: BLE001 - closing a broken client
                pass

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        if p.name != self.query_name:
            return
        offsets = self.jvm.java.util.HashMap()
        for source in p.sources:
            if not source.description.startswith("Kafka") or not source.endOffset:
                continue
            try:
                end = json.loads(source.endOffset)
            except ValueError:
                log("offset_mirror_skipped", query=p.name, reason="endOffset is not JSON", endOffset=source.endOffset[:200])
                continue
            for topic, partitions in end.items():
                for partition, offset in partitions.items():
                    tp = self.jvm.org.apache.kafka.common.TopicPartition(topic, int(partition))
                    offsets.put(tp, self.jvm.org.apache.kafka.clients.consumer.OffsetAndMetadata(int(offset)))
        if offsets.isEmpty():
            return
        try:
            self._consumer().commitSync(offsets)
            if self.failed:
                log("offset_mirror_recovered", group=self.group)
            self.failed = False
        except Exception as exc:  # noqa: BLE001 - monitoring aid only: never stop the query
            if not self.failed:
                log("offset_mirror_failed", group=self.group, error=str(exc).split("\n")[0][:300])
            self.failed = True
            self._close()

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        self._close()


SILVER_COLUMNS = (
    "domain STRING NOT NULL, source STRING NOT NULL, category STRING, first_seen TIMESTAMP, "
    "last_ingested_at TIMESTAMP, last_run_id STRING, seen_count BIGINT, "
    "kafka_topic STRING, kafka_offset BIGINT, updated_at TIMESTAMP"
)


def ensure_silver(spark, path):
    """Create the silver table up front (empty, change data feed on) so gold can stream from it."""
    if DeltaTable.isDeltaTable(spark, path):
        return
    spark.sql(
        "CREATE TABLE IF NOT EXISTS delta.`%s` (%s) USING DELTA "
        "TBLPROPERTIES (delta.enableChangeDataFeed = true)" % (path, SILVER_COLUMNS)
    )
    log("table_created", layer="silver", path=path)


def start_bronze(spark, args):
    reader = spark.readStream.format("kafka")
    for key, value in kafka_security_properties().items():
        reader = reader.option("kafka." + key, value)
    raw = (
        reader
        .option("kafka.bootstrap.servers", args.bootstrap_servers)
        .option("subscribe", args.topic)
        .option("startingOffsets", args.starting_offsets)
        .option("failOnDataLoss", "false")
        .option("maxOffsetsPerTrigger", env("MAX_OFFSETS_PER_TRIGGER", "100000"))
        .load()
    )
    bronze = raw.select(
        "key", "value", "topic", "partition", "offset", "timestamp", "timestampType",
        F.current_timestamp().alias("bronze_ingested_at"),
    )
    return (
        bronze.writeStream.format("delta")
        .queryName("bronze")
        .outputMode("append")
        .option("checkpointLocation", args.checkpoint_root.rstrip("/") + "/bronze")
        .trigger(processingTime="%d seconds" % args.trigger_seconds)
        .start(args.bronze_path)
    )


def decode(bronze_df, avro_schema):
    """Confluent wire format: magic byte 0, 4-byte schema id, then the Avro binary body."""
    framed = bronze_df.where(F.col("value").isNotNull() & (F.length("value") > 5))
    framed = framed.where(F.substring("value", 1, 1) == F.lit(bytearray([0])))
    rec = from_avro(F.expr("substring(value, 6, length(value) - 5)"), avro_schema, {"mode": "PERMISSIVE"})
    decoded = framed.select(rec.alias("r"), F.col("topic"), F.col("offset")).where(F.col("r").isNotNull())
    domain = F.regexp_replace(F.lower(F.trim(F.col("r.domain"))), r"\.+$", "")
    return decoded.select(
        domain.alias("domain"),
        F.trim(F.col("r.source")).alias("source"),
        F.lower(F.trim(F.col("r.category"))).alias("category"),
        F.col("r.first_seen").alias("first_seen"),
        F.col("r.ingested_at").alias("ingested_at"),
        F.col("r.run_id").alias("run_id"),
        F.col("topic").alias("kafka_topic"),
        F.col("offset").alias("kafka_offset"),
    ).where(F.col("domain").rlike(HOST_RE) & (F.length("source") > 0))


def start_silver(spark, args, avro_schema):
    ensure_silver(spark, args.silver_path)
    target = DeltaTable.forPath(spark, args.silver_path)

    def upsert(batch_df, batch_id):
        rows = (
            decode(batch_df, avro_schema)
            .groupBy("domain", "source")
            .agg(
                F.first("category").alias("category"),
                F.min("first_seen").alias("first_seen"),
                F.max("ingested_at").alias("last_ingested_at"),
                F.max_by("run_id", "ingested_at").alias("last_run_id"),
                F.count(F.lit(1)).alias("seen_count"),
                F.max_by("kafka_topic", "kafka_offset").alias("kafka_topic"),
                F.max("kafka_offset").alias("kafka_offset"),
            )
            .withColumn("updated_at", F.current_timestamp())
        )
        (
            target.alias("t")
            .merge(rows.alias("s"), "t.domain = s.domain AND t.source = s.source")
            .whenMatchedUpdate(
                set={
                    "category": "s.category",
                    "first_seen": "least(t.first_seen, s.first_seen)",
                    "last_ingested_at": "greatest(t.last_ingested_at, s.last_ingested_at)",
                    "last_run_id": "s.last_run_id",
                    "seen_count": "t.seen_count + s.seen_count",
                    "kafka_topic": "s.kafka_topic",
                    "kafka_offset": "s.kafka_offset",
                    "updated_at": "s.updated_at",
                }
            )
            .whenNotMatchedInsertAll()
            .execute()
        )

    return (
        spark.readStream.format("delta")
        .load(args.bronze_path)
        .writeStream.queryName("silver")
        .foreachBatch(upsert)
        .option("checkpointLocation", args.checkpoint_root.rstrip("/") + "/silver")
        .trigger(processingTime="%d seconds" % args.trigger_seconds)
        .start()
    )


def start_gold(spark, args):
    def recompute(changes_df, batch_id):
        # Reading the changes makes the query's input metrics honest (rows changed in silver).
        changed = changes_df.count()
        if changed == 0:
            return
        # Any change in silver: recount the silver snapshot (small: one row per domain and source).
        gold = (
            spark.read.format("delta")
            .load(args.silver_path)
            .groupBy("source", "category")
            .agg(
                F.count(F.lit(1)).alias("domains"),
                F.sum("seen_count").alias("records"),
                F.min("first_seen").alias("first_seen_min"),
                F.max("last_ingested_at").alias("last_ingested_at"),
            )
            .withColumn("updated_at", F.current_timestamp())
        )
        gold.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(args.gold_path)

    return (
        spark.readStream.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", "0")
        .load(args.silver_path)
        .writeStream.queryName("gold")
        .foreachBatch(recompute)
        .option("checkpointLocation", args.checkpoint_root.rstrip("/") + "/gold")
        .trigger(processingTime="%d seconds" % args.trigger_seconds)
        .start()
    )


def wait_for_bronze_table(spark, path, stop):
    """silver streams from bronze: wait until the bronze query has created its table."""
    while not stop["requested"]:
        if DeltaTable.isDeltaTable(spark, path):
            return True
        time.sleep(2)
    return False


def main(argv):
    args = parse_args(argv)
    try:
        kafka_security_properties()  # a bad KAFKA_* setting ends the job at once, named
    except (ValueError, OSError) as err:
        log("bad_kafka_settings", error=str(err))
        print("harmful_domains_stream: %s" % err, file=sys.stderr)
        return 2
    with open(args.schema_file) as f:
        avro_schema = f.read()
    spark = build_session(args)
    spark.sparkContext.setLogLevel(env("SPARK_LOG_LEVEL", "WARN"))
    spark.streams.addListener(ProgressLogger(args.progress_file))
    if args.commit_group.lower() != "none":
        spark.streams.addListener(KafkaOffsetMirror(spark, args.bootstrap_servers, args.commit_group, "bronze"))
    log(
        "job_starting",
        app=args.app_name,
        appId=spark.sparkContext.applicationId,
        uiWebUrl=spark.sparkContext.uiWebUrl,
        topic=args.topic,
        bronze=args.bronze_path,
        silver=args.silver_path,
        gold=args.gold_path,
        checkpoints=args.checkpoint_root,
        triggerSeconds=args.trigger_seconds,
        commitGroup=args.commit_group,
    )

    stop = {"requested": False}

    def on_signal(signum, _frame):
        stop["requested"] = True
        log("stopping", signal=signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    queries = [start_bronze(spark, args)]
    if wait_for_bronze_table(spark, args.bronze_path, stop):
        queries.append(start_silver(spark, args, avro_schema))
        queries.append(start_gold(spark, args))
    log("job_running", queries=[q.name for q in queries])

    failed = None
    while not stop["requested"]:
        for q in queries:
            if not q.isActive:
                failed = q
                break
        if failed is not None:
            break
        try:
            spark.streams.awaitAnyTermination(2)
        except Exception:  # noqa: BLE001 - a failed query; found inactive on the next pass
            pass
        spark.streams.resetTerminated()

    for q in queries:
        try:
            q.stop()
        except Exception as exc:  # noqa: BLE001 - best effort on shutdown
            # SIGTERM reaches the JVM too; its shutdown hook may have stopped the context first
            if "stopped SparkContext" not in str(exc):
                log("stop_failed", query=q.name, error=str(exc).split("\n")[0])
    if failed is not None:
        err = failed.exception()
        log("query_failed", query=failed.name, error=str(err) if err else "stopped")
        spark.stop()
        return 1
    try:
        spark.stop()
    except Exception:  # noqa: BLE001 - already stopped by the JVM's shutdown hook
        pass
    log("job_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
