// Package pushtest holds what tests and benchmarks of pushes share: a
// small fake controller answering the admin API calls a push makes, and a
// feature-like dataset (repetitive field names, enum-like strings) of the
// kind zstd dictionaries are for.
package pushtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rialtodb/rialto/controller/api"
)

// Controller is a fake controller over httptest: one store, created by the
// test, whose pushes create versions v1, v2, … with topics the test
// pre-creates. It answers GET /v1/cluster, GET /v1/stores/{s}, POST
// /v1/stores/{s}/versions, …/versions/{n}/end-of-push, …/versions/{n}/kill
// and GET /v1/stores/{s}/replay. A version becomes current at end-of-push
// when AutoSwap is set.
type Controller struct {
	URL string

	mu       sync.Mutex
	srv      *httptest.Server
	cluster  api.Cluster
	store    api.Store
	topicFor func(version int32) string
	calls    []string
	autoSwap bool
}

// NewController starts a fake controller for st. Versions of a full push get
// the topic topicFor(n) (the test creates it) and the store config's
// partitions, compression and chunking.
func NewController(brokers []string, st api.Store, topicFor func(version int32) string) *Controller {
	c := &Controller{
		cluster:  api.Cluster{Regions: []api.Region{{ID: 0, Name: "local", Brokers: brokers}}},
		store:    st,
		topicFor: topicFor,
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	c.URL = c.srv.URL
	return c
}

// Close stops the server.
func (c *Controller) Close() { c.srv.Close() }

// SetCluster replaces the regions the controller describes.
func (c *Controller) SetCluster(cl api.Cluster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cluster = cl
}

// AutoSwap makes a version current as soon as its end-of-push is reported.
func (c *Controller) AutoSwap(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.autoSwap = on
}

// Calls returns the calls made so far, as "METHOD path".
func (c *Controller) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// Store returns the store as the controller holds it now.
func (c *Controller) Store() api.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.store
	st.Versions = append([]api.Version(nil), c.store.Versions...)
	return st
}

// Version returns version n.
func (c *Controller) Version(n int32) (api.Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.store.Versions {
		if v.Number == n {
			return v, true
		}
	}
	return api.Version{}, false
}

func (c *Controller) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, r.Method+" "+r.URL.Path)
	fail := func(code int, format string, args ...any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
	}
	ok := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	if r.URL.Path == "/v1/cluster" && r.Method == http.MethodGet {
		ok(c.cluster)
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/v1/stores/")
	if !found {
		fail(http.StatusNotFound, "no route %s", r.URL.Path)
		return
	}
	parts := strings.Split(rest, "/")
	if parts[0] != c.store.Name {
		fail(http.StatusNotFound, "store %q not found", parts[0])
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		ok(c.store)
	case len(parts) == 2 && parts[1] == "versions" && r.Method == http.MethodPost:
		var req api.StartPushRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(http.StatusBadRequest, "bad request: %v", err)
			return
		}
		for _, v := range c.store.Versions {
			if v.Role == api.RoleFuture && v.Status == api.StatusStarted {
				fail(http.StatusConflict, "store %s: version %d is being pushed", c.store.Name, v.Number)
				return
			}
		}
		n := int32(1)
		for _, v := range c.store.Versions {
			n = max(n, v.Number+1)
		}
		v := api.Version{
			Number: n, Status: api.StatusStarted, Role: api.RoleFuture, Topic: c.topicFor(n),
			Partitions: c.store.Config.Partitions, Compression: c.store.Config.Compression,
			Chunking: c.store.Config.Chunking, Dictionary: req.Dictionary,
			CreatedAt: time.Now(), StartOfPushAt: time.Now(),
		}
		c.store.Versions = append(c.store.Versions, v)
		c.store.Revision++
		ok(v)
	case len(parts) == 4 && parts[1] == "versions" && r.Method == http.MethodPost:
		n, err := strconv.Atoi(parts[2])
		var v *api.Version
		for i := range c.store.Versions {
			if err == nil && c.store.Versions[i].Number == int32(n) {
				v = &c.store.Versions[i]
			}
		}
		if v == nil {
			fail(http.StatusNotFound, "store %s has no version %s", c.store.Name, parts[2])
			return
		}
		switch parts[3] {
		case "end-of-push":
			if v.Status != api.StatusStarted {
				fail(http.StatusConflict, "version %d is %s", v.Number, v.Status)
				return
			}
			v.Status, v.EndOfPushAt = api.StatusPushed, time.Now()
			if c.autoSwap {
				v.Status, v.Role = api.StatusOnline, api.RoleCurrent
				c.store.CurrentVersion = v.Number
			}
		case "kill":
			v.Status, v.Role = api.StatusKilled, api.RoleRetired
		default:
			fail(http.StatusNotFound, "no route %s", r.URL.Path)
			return
		}
		c.store.Revision++
		ok(*v)
	case len(parts) == 2 && parts[1] == "replay" && r.Method == http.MethodGet:
		n, _ := strconv.Atoi(r.URL.Query().Get("version"))
		ok(api.ReplayStatus{Store: c.store.Name, Version: int32(n), Partitions: []api.PartitionReplay{
			{Partition: 0, EndOfPush: true, Lag: map[string]int64{"local": 0}, ReadyToServe: true},
		}, Ready: true})
	default:
		fail(http.StatusNotFound, "no route %s %s", r.Method, r.URL.Path)
	}
}

// FeatureSchema is a feature-store-like value: model scores and enum-like
// strings under long, repetitive field names.
const FeatureSchema = `{"type":"record","name":"MemberFeatures","namespace":"com.example.features","fields":[
	{"name":"member_industry_category","type":"string","default":""},
	{"name":"member_seniority_bucket","type":"string","default":""},
	{"name":"member_geo_region_code","type":"string","default":""},
	{"name":"member_activity_segment","type":"string","default":""},
	{"name":"feature_model_version","type":"string","default":""},
	{"name":"pymk_score_bucket","type":"int","default":0},
	{"name":"jymbii_affinity_bucket","type":"int","default":0},
	{"name":"recent_skill_tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"engagement_counters","type":{"type":"map","values":"long"},"default":{}}
]}`

var (
	industries = []string{"INDUSTRY_SOFTWARE_DEVELOPMENT", "INDUSTRY_FINANCIAL_SERVICES", "INDUSTRY_HOSPITAL_HEALTH_CARE",
		"INDUSTRY_HIGHER_EDUCATION", "INDUSTRY_RETAIL", "INDUSTRY_STAFFING_AND_RECRUITING", "INDUSTRY_MANUFACTURING"}
	seniorities = []string{"SENIORITY_ENTRY", "SENIORITY_SENIOR", "SENIORITY_MANAGER", "SENIORITY_DIRECTOR", "SENIORITY_VP", "SENIORITY_CXO"}
	regions     = []string{"GEO_NORTH_AMERICA_US_WEST", "GEO_NORTH_AMERICA_US_EAST", "GEO_EUROPE_WEST", "GEO_EUROPE_NORTH", "GEO_ASIA_PACIFIC_SOUTH", "GEO_LATIN_AMERICA"}
	segments    = []string{"ACTIVITY_DAILY_ACTIVE", "ACTIVITY_WEEKLY_ACTIVE", "ACTIVITY_MONTHLY_ACTIVE", "ACTIVITY_DORMANT"}
	models      = []string{"features-2024-11-03-r1", "features-2024-11-03-r2"}
	skills      = []string{"skill:distributed-systems", "skill:machine-learning", "skill:product-management", "skill:golang",
		"skill:kafka", "skill:data-engineering", "skill:sales", "skill:recruiting", "skill:accounting", "skill:design"}
	counters = []string{"profile_views_7d", "search_appearances_7d", "post_impressions_7d", "connection_requests_7d", "messages_received_7d"}
)

// FeatureLine returns the JSONL line of record i (keys "member-<i>"): a
// deterministic function of seed and i. With withTimestamp the line
// carries "timestamp": base + i.
func FeatureLine(seed uint64, i int, withTimestamp bool, base int64) string {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var tags []string
	for range 1 + rng.IntN(4) {
		tags = append(tags, pick(skills))
	}
	cnt := map[string]int64{}
	for _, c := range counters[:2+rng.IntN(len(counters)-1)] {
		cnt[c] = int64(rng.IntN(500))
	}
	v := map[string]any{
		"member_industry_category": pick(industries),
		"member_seniority_bucket":  pick(seniorities),
		"member_geo_region_code":   pick(regions),
		"member_activity_segment":  pick(segments),
		"feature_model_version":    pick(models),
		"pymk_score_bucket":        rng.IntN(20),
		"jymbii_affinity_bucket":   rng.IntN(10),
		"recent_skill_tags":        tags,
		"engagement_counters":      cnt,
	}
	line := map[string]any{"key": fmt.Sprintf("member-%d", i), "value": v}
	if withTimestamp {
		line["timestamp"] = base + int64(i)
	}
	b, err := json.Marshal(line)
	if err != nil {
		panic(err) // plain maps of strings and numbers always marshal
	}
	return string(b)
}

// FeatureJSONL returns n FeatureLine lines, each ending in a newline.
func FeatureJSONL(seed uint64, n int, withTimestamp bool, base int64) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(FeatureLine(seed, i, withTimestamp, base))
		b.WriteByte('\n')
	}
	return b.String()
}
