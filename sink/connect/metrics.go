package connect

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. Kafka Connect publishes these over JMX in the groups
// sink-task-metrics and task-error-metrics, named with dashes
// (sink-record-read-total); Prometheus names allow no dashes, so each dash
// becomes an underscore (sink_record_read_total) and nothing else changes:
// no prefix, Connect's connector and task become the labels "connector"
// and "task". Rates (sink-record-read-rate …) are not exported: take
// rate() of the totals.
var metricHelp = map[string]string{
	"sink-record-read-total":           "Records read from Kafka by this task (before conversion).",
	"sink-record-send-total":           "Records converted and handed to the Rialto writer.",
	"sink-record-active-count":         "Records read and not yet acknowledged by the writer or the dead-letter topic.",
	"sink-record-ack-total":            "Writes the Rialto writer acknowledged (Rialto addition).",
	"offset-commit-completion-total":   "Offset commits that completed.",
	"offset-commit-skip-total":         "Offset commits skipped because nothing new was committable.",
	"offset-commit-failure-total":      "Offset commits that failed (Rialto addition; Connect has a percentage).",
	"partition-count":                  "Topic partitions assigned to this task.",
	"total-record-errors":              "Records that failed (conversion or write), counted once per record.",
	"total-record-failures":            "Failed attempts, retries included.",
	"total-records-skipped":            "Records skipped because of an error (errors.tolerance=all).",
	"total-retries":                    "Retries of retriable write errors.",
	"total-errors-logged":              "Errors written to the log (errors.log.enable=true).",
	"deadletterqueue-produce-requests": "Records sent to the dead-letter topic.",
	"deadletterqueue-produce-failures": "Dead-letter records Kafka did not take.",
	"last-error-timestamp":             "Unix ms of the last record error.",
}

// PrometheusName turns a Connect metric name into the Prometheus one.
func PrometheusName(connectName string) string { return strings.ReplaceAll(connectName, "-", "_") }

type taskMetrics struct {
	read, send, ack, errors, failures, skipped, retries, logged, dlqReq, dlqFail prometheus.Counter
	active, partitions, lastError                                                prometheus.Gauge
}

type metrics struct {
	tasks                                []*taskMetrics
	commitDone, commitSkip, commitFailed prometheus.Counter
	collectors                           []prometheus.Collector
}

func newMetrics(connector string, tasks int) *metrics {
	m := &metrics{}
	counter := func(name string, task bool) *prometheus.CounterVec {
		labels := []string{"connector"}
		if task {
			labels = append(labels, "task")
		}
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: PrometheusName(name), Help: metricHelp[name]}, labels)
		m.collectors = append(m.collectors, v)
		return v
	}
	gauge := func(name string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: PrometheusName(name), Help: metricHelp[name]}, []string{"connector", "task"})
		m.collectors = append(m.collectors, v)
		return v
	}
	read, send, ack := counter("sink-record-read-total", true), counter("sink-record-send-total", true), counter("sink-record-ack-total", true)
	errs, fails, skipped := counter("total-record-errors", true), counter("total-record-failures", true), counter("total-records-skipped", true)
	retries, logged := counter("total-retries", true), counter("total-errors-logged", true)
	dlqReq, dlqFail := counter("deadletterqueue-produce-requests", true), counter("deadletterqueue-produce-failures", true)
	active, parts, lastErr := gauge("sink-record-active-count"), gauge("partition-count"), gauge("last-error-timestamp")
	done, skip, failed := counter("offset-commit-completion-total", false), counter("offset-commit-skip-total", false), counter("offset-commit-failure-total", false)
	m.commitDone, m.commitSkip, m.commitFailed = done.WithLabelValues(connector), skip.WithLabelValues(connector), failed.WithLabelValues(connector)
	for i := range tasks {
		l := []string{connector, strconv.Itoa(i)}
		m.tasks = append(m.tasks, &taskMetrics{
			read: read.WithLabelValues(l...), send: send.WithLabelValues(l...), ack: ack.WithLabelValues(l...),
			errors: errs.WithLabelValues(l...), failures: fails.WithLabelValues(l...), skipped: skipped.WithLabelValues(l...),
			retries: retries.WithLabelValues(l...), logged: logged.WithLabelValues(l...),
			dlqReq: dlqReq.WithLabelValues(l...), dlqFail: dlqFail.WithLabelValues(l...),
			active: active.WithLabelValues(l...), partitions: parts.WithLabelValues(l...), lastError: lastErr.WithLabelValues(l...),
		})
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range m.collectors {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
