package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is a Prometheus registry owned by one server instance (never
// the global default registry, so two servers in one process, as in tests
// and `rialto dev --regions 2`, keep separate figures).
//
// Ingestion figures are read from Status() at scrape time by a collector:
// the ingestion hot path only updates the atomics it already keeps. Reads
// are observed by the HTTP handler.
//
// Series (labels in braces):
//
//	rialto_ingest_records_total{store,version,partition}          counter  puts and deletes applied
//	rialto_ingest_bytes_total{store,version,partition}            counter  version-topic bytes consumed
//	rialto_ingest_offset{store,version,partition}                 gauge    next version-topic offset
//	rialto_ingest_lag_records{store,version,partition}            gauge    version-topic records not applied yet
//	rialto_partition_end_of_push{store,version,partition}         gauge    1 once end-of-push is consumed
//	rialto_partition_ready{store,version,partition}               gauge    1 when ready to serve
//	rialto_partition_failed{store,version,partition}              gauge    1 when ingestion stopped on bad data
//	rialto_partition_leader{store,version,partition}              gauge    1 while this server leads
//	rialto_replay_lag_records{store,version,partition,region}     gauge    RT records of a region not replayed yet
//	rialto_div_faults_total{store,version,partition,verdict}      counter  data integrity faults by kind
//	rialto_rt_skipped_total{store,version,partition}              counter  RT records a leader could not resolve
//	rialto_current_version{store}                                 gauge    version reads go to
//	rialto_read_duration_seconds{op}                              histogram  single / batch request latency
//	rialto_read_requests_total{op,code}                           counter  requests by HTTP status
//	rialto_read_keys_total{op,result}                             counter  keys read: found / missing
//
// plus the Go runtime and process collectors.
type Metrics struct {
	reg *prometheus.Registry

	readSeconds  [numOps]prometheus.Observer
	readRequests *prometheus.CounterVec
	keysFound    [numOps]prometheus.Counter
	keysMissing  [numOps]prometheus.Counter
	requestsOK   [numOps]prometheus.Counter
}

type readOp int

const (
	opSingle readOp = iota
	opBatch
	numOps
)

var opNames = [numOps]string{"single", "batch"}

// readBuckets span a cached Pebble get over loopback (~50 µs) to a slow
// batch (1 s).
var readBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// NewMetrics returns a registry holding the server's metrics (s may be
// nil: read metrics and runtime collectors only).
func NewMetrics(s *Server) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s != nil {
		m.reg.MustRegister(&statusCollector{s: s})
	}
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rialto_read_duration_seconds", Help: "Read request latency, from routing to the last byte handed to the connection.", Buckets: readBuckets,
	}, []string{"op"})
	m.readRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rialto_read_requests_total", Help: "Read requests by operation and HTTP status code.",
	}, []string{"op", "code"})
	keys := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rialto_read_keys_total", Help: "Keys read by operation and result (found, missing).",
	}, []string{"op", "result"})
	m.reg.MustRegister(hist, m.readRequests, keys)
	for op := range numOps {
		m.readSeconds[op] = hist.WithLabelValues(opNames[op])
		m.keysFound[op] = keys.WithLabelValues(opNames[op], "found")
		m.keysMissing[op] = keys.WithLabelValues(opNames[op], "missing")
		m.requestsOK[op] = m.readRequests.WithLabelValues(opNames[op], "200")
	}
	return m
}

// Registry returns the registry, for a binary that adds its own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeRead records one read request. served says the keys were read
// (a 200, or the 404 of a binary get of a missing key): then found of keys
// count as found and the rest as missing.
func (m *Metrics) observeRead(op readOp, code int, d time.Duration, served bool, found, keys int) {
	m.readSeconds[op].Observe(d.Seconds())
	if code == http.StatusOK {
		m.requestsOK[op].Inc()
	} else {
		m.readRequests.WithLabelValues(opNames[op], strconv.Itoa(code)).Inc()
	}
	if served {
		m.keysFound[op].Add(float64(found))
		m.keysMissing[op].Add(float64(keys - found))
	}
}

// statusCollector turns Status() into metrics at scrape time.
type statusCollector struct{ s *Server }

var (
	partLabels        = []string{"store", "version", "partition"}
	descRecords       = prometheus.NewDesc("rialto_ingest_records_total", "Puts and deletes applied to a hosted partition.", partLabels, nil)
	descBytes         = prometheus.NewDesc("rialto_ingest_bytes_total", "Version-topic key and value bytes consumed by a hosted partition since the server started.", partLabels, nil)
	descOffset        = prometheus.NewDesc("rialto_ingest_offset", "Next version-topic offset a hosted partition consumes.", partLabels, nil)
	descLag           = prometheus.NewDesc("rialto_ingest_lag_records", "Version-topic records a hosted partition has not applied yet.", partLabels, nil)
	descEndOfPush     = prometheus.NewDesc("rialto_partition_end_of_push", "1 once the partition consumed end-of-push.", partLabels, nil)
	descReady         = prometheus.NewDesc("rialto_partition_ready", "1 when the partition is ready to serve (end-of-push, caught up, not failed).", partLabels, nil)
	descFailed        = prometheus.NewDesc("rialto_partition_failed", "1 when ingestion of the partition stopped on data it cannot trust.", partLabels, nil)
	descLeader        = prometheus.NewDesc("rialto_partition_leader", "1 while this server leads the partition.", partLabels, nil)
	descReplayLag     = prometheus.NewDesc("rialto_replay_lag_records", "RT records of a source region the leader has not replayed yet.", append(append([]string(nil), partLabels...), "region"), nil)
	descDIVFaults     = prometheus.NewDesc("rialto_div_faults_total", "Data integrity faults by kind (duplicate, missing, corrupt, unregistered).", append(append([]string(nil), partLabels...), "verdict"), nil)
	descSkipped       = prometheus.NewDesc("rialto_rt_skipped_total", "RT records the leader could not resolve and skipped.", partLabels, nil)
	descCurrent       = prometheus.NewDesc("rialto_current_version", "The version reads of a store go to by default.", []string{"store"}, nil)
	statusDescriptors = []*prometheus.Desc{descRecords, descBytes, descOffset, descLag, descEndOfPush, descReady, descFailed, descLeader, descReplayLag, descDIVFaults, descSkipped, descCurrent}
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statusDescriptors {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.s.Status() {
		lv := []string{p.Store, strconv.Itoa(int(p.Version)), strconv.Itoa(int(p.Partition))}
		ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(p.Records), lv...)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(p.Bytes), lv...)
		ch <- prometheus.MustNewConstMetric(descOffset, prometheus.GaugeValue, float64(p.Offset), lv...)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(p.Lag), lv...)
		ch <- prometheus.MustNewConstMetric(descEndOfPush, prometheus.GaugeValue, b2f(p.EndOfPush), lv...)
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(p.ReadyToServe), lv...)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.GaugeValue, b2f(p.Failed != ""), lv...)
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, b2f(p.Leader), lv...)
		ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(p.Skipped), lv...)
		for region, lag := range p.ReplayLag {
			ch <- prometheus.MustNewConstMetric(descReplayLag, prometheus.GaugeValue, float64(lag), append(lv, strconv.Itoa(int(region)))...)
		}
		for verdict, n := range p.Faults {
			ch <- prometheus.MustNewConstMetric(descDIVFaults, prometheus.CounterValue, float64(n), append(lv, verdict)...)
		}
	}
	for store, v := range c.s.currentVersions() {
		ch <- prometheus.MustNewConstMetric(descCurrent, prometheus.GaugeValue, float64(v), store)
	}
}
