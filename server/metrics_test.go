package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
)

// scrape reads /metrics and returns every sample as "name{l1="v1",…}" →
// value (labels sorted), histograms as their _count.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	a := httpDo(t, "GET", base+"/metrics", nil)
	if a.code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", a.code, a.body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(a.body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsDIVFaultsByKind injects one fault of each kind into a version
// topic after end-of-push and finds them counted by kind in /metrics.
func TestMetricsDIVFaultsByKind(t *testing.T) {
	env := kafkatest.New(t)
	ctx := context.Background()
	p := newHTTPPush(t, env, "div", `"string"`, 1)
	for i := range 10 {
		p.put(t, fmt.Sprintf("k%d", i), profile(i))
	}
	p.endOfPush(t)

	// Find the writer's last record and one of its puts.
	cl := env.Client(t, kgo.ConsumeTopics(p.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(p.topic))
	var last wire.Producer
	var aPut *kgo.Record
	eop := false
	deadline := time.Now().Add(30 * time.Second)
	for !eop || aPut == nil {
		if time.Now().After(deadline) {
			t.Fatal("did not read the pushed records back")
		}
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			e, err := wire.Decode(r.Value)
			if err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			if e.Producer.GUID == p.w.GUID() && (e.Producer.Segment > last.Segment || (e.Producer.Segment == last.Segment && e.Producer.Sequence > last.Sequence)) {
				last = e.Producer
			}
			if e.Type == wire.TypePut && aPut == nil {
				aPut = r
			}
			if e.Type == wire.TypeControl && e.Control.Type == wire.ControlEndOfPush {
				eop = true
			}
		})
	}

	put := func(producer wire.Producer, key string) *kgo.Record {
		e := wire.Envelope{Type: wire.TypePut, Producer: producer, Put: wire.Put{SchemaID: 1, Value: p.want["k1"]}}
		return &kgo.Record{Partition: 0, Key: wire.AppendDataKey(nil, []byte(key)), Value: wire.AppendValue(nil, &e)}
	}
	gap := last
	gap.Sequence += 10
	stranger := wire.Producer{GUID: wire.GUID{1, 2, 3}, Segment: 0, Sequence: 3, ProducerTimestamp: time.Now().UnixMilli()}
	injected := []*kgo.Record{
		{Partition: 0, Key: aPut.Key, Value: aPut.Value}, // duplicate
		put(gap, "gap"),           // missing: sequence jumps
		put(stranger, "stranger"), // unregistered: no start-of-segment
		{Partition: 0, Key: wire.AppendDataKey(nil, []byte("junk")), Value: []byte{wire.Magic, wire.ProtocolVersion, 0xff, 0xff, 0xff}}, // corrupt
	}
	if err := cl.ProduceSync(ctx, injected...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, env.Brokers(), t.TempDir())
	_, base := httpFront(t, s, HTTPOptions{})
	hostAll(t, s, p.spec(t))
	s.SetCurrentVersion("div", 1)
	kinds := []string{"duplicate", "missing", "unregistered", "corrupt"}
	waitFor(t, time.Minute, "every fault counted", func() bool {
		st := s.Status()
		if len(st) != 1 || !st[0].ReadyToServe {
			return false
		}
		for _, k := range kinds {
			if st[0].Faults[k] == 0 {
				return false
			}
		}
		return true
	})
	st := s.Status()[0]
	t.Logf("faults %v, records %d", st.Faults, st.Records)
	if st.Failed != "" {
		t.Fatalf("faults after end-of-push failed the partition: %s", st.Failed)
	}

	m := scrape(t, base)
	for _, k := range kinds {
		name := fmt.Sprintf(`rialto_div_faults_total{partition="0",store="div",verdict=%q,version="1"}`, k)
		if m[name] != float64(st.Faults[k]) || m[name] < 1 {
			t.Errorf("%s = %v, want %d", name, m[name], st.Faults[k])
		}
	}
	if got := m[`rialto_div_faults_total{partition="0",store="div",verdict="ok",version="1"}`]; got != 0 {
		t.Errorf("ok records counted as faults: %v", got)
	}
	for name, want := range map[string]float64{
		`rialto_ingest_records_total{partition="0",store="div",version="1"}`:  float64(st.Records),
		`rialto_ingest_lag_records{partition="0",store="div",version="1"}`:    0,
		`rialto_partition_ready{partition="0",store="div",version="1"}`:       1,
		`rialto_partition_end_of_push{partition="0",store="div",version="1"}`: 1,
		`rialto_partition_failed{partition="0",store="div",version="1"}`:      0,
		`rialto_current_version{store="div"}`:                                 1,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if st.Records < 10 {
		t.Errorf("records %d, want at least the 10 pushed", st.Records)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsReads checks read counts, errors and latency histograms, and
// that two handlers' registries are separate.
func TestMetricsReads(t *testing.T) {
	env := kafkatest.New(t)
	p := newHTTPPush(t, env, "users", `"string"`, 2)
	for i := range 10 {
		p.put(t, fmt.Sprintf("u%d", i), profile(i))
	}
	p.endOfPush(t)
	s := startServer(t, env.Brokers(), t.TempDir())
	_, base := httpFront(t, s, HTTPOptions{})
	_, other := httpFront(t, s, HTTPOptions{})
	hostAll(t, s, p.spec(t))
	s.SetCurrentVersion("users", 1)
	waitFor(t, time.Minute, "ready", func() bool { return allReady(s, 2) })

	httpDo(t, "GET", base+"/v1/stores/users/keys/u1", nil)
	httpDo(t, "GET", base+"/v1/stores/users/keys/u2?format=avro", nil)
	httpDo(t, "GET", base+"/v1/stores/users/keys/nobody?format=avro", nil) // 404, a served read
	httpDo(t, "GET", base+"/v1/stores/users/keys/u1?version=x", nil)       // 400
	httpDo(t, "GET", base+"/v1/stores/none/keys/u1", nil)                  // 404 unknown store
	httpDo(t, "POST", base+"/v1/stores/users/batch-get", []byte(`{"keys":["u1","u2","u3","x","y"]}`))
	httpDo(t, "POST", base+"/v1/stores/users/batch-get", []byte(`{"keys":[1]}`)) // 400

	m := scrape(t, base)
	for name, want := range map[string]float64{
		`rialto_read_requests_total{code="200",op="single"}`:   2,
		`rialto_read_requests_total{code="404",op="single"}`:   2,
		`rialto_read_requests_total{code="400",op="single"}`:   1,
		`rialto_read_requests_total{code="200",op="batch"}`:    1,
		`rialto_read_requests_total{code="400",op="batch"}`:    1,
		`rialto_read_keys_total{op="single",result="found"}`:   2,
		`rialto_read_keys_total{op="single",result="missing"}`: 1,
		`rialto_read_keys_total{op="batch",result="found"}`:    3,
		`rialto_read_keys_total{op="batch",result="missing"}`:  2,
		`rialto_read_duration_seconds{op="single"}_count`:      5,
		`rialto_read_duration_seconds{op="batch"}_count`:       2,
	} {
		if got := m[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := scrape(t, other)[`rialto_read_duration_seconds{op="single"}_count`]; got != 0 {
		t.Errorf("a second handler's registry saw %v reads of the first", got)
	}
}
