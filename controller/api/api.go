// Package api holds the types of the controller's HTTP/JSON admin API and
// of its admin log, shared by the controller, its Go client, the servers,
// the push job, the sinks and the CLI.
//
// Endpoints (all JSON; errors are {"error": "one line"} with a status code):
//
//	GET    /v1/cluster                              Cluster
//	POST   /v1/stores                               CreateStoreRequest → Store
//	GET    /v1/stores                               []Store
//	GET    /v1/stores/{store}                       Store
//	PATCH  /v1/stores/{store}                       UpdateStoreRequest → Store
//	DELETE /v1/stores/{store}
//	POST   /v1/stores/{store}/schemas               AddSchemaRequest → Schema
//	POST   /v1/stores/{store}/versions              StartPushRequest → Version (a new future version)
//	POST   /v1/stores/{store}/versions/{n}/end-of-push   the push job wrote end-of-push → Version
//	POST   /v1/stores/{store}/versions/{n}/kill     → Version
//	POST   /v1/stores/{store}/swap                  SwapRequest → Store
//	POST   /v1/stores/{store}/rollback              → Store
//	GET    /v1/stores/{store}/replay?version=N      ReplayStatus
//	GET    /v1/stores/{store}/replay/plan           ReplayPlan
//
// A bearer token, when configured, is required on every request.
package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as a string such as "24h" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"24h\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Replay policies: where the RT buffer is replayed from into a new version.
const (
	ReplayFromEndOfPush   = "end-of-push"   // end-of-push time − rewind (default)
	ReplayFromStartOfPush = "start-of-push" // start-of-push time − rewind
)

// StoreConfig is a store's configuration. Changes to partitions,
// compression and chunking take effect at the next full push.
type StoreConfig struct {
	Partitions int32 `json:"partitions"`
	// PartialUpdate enables partial updates and collection merges.
	PartialUpdate bool `json:"partialUpdate"`
	// ActiveActive accepts writes in every region and resolves conflicts
	// with replication metadata.
	ActiveActive bool `json:"activeActive"`
	// HybridRewind is how far before the replay start a new version
	// replays the RT buffer; 0 makes a batch-only store without nearline
	// writes.
	HybridRewind Duration `json:"hybridRewind"`
	// HybridOffsetLag is the replay lag (RT records) under which a
	// partition of a new version is ready to serve.
	HybridOffsetLag int64 `json:"hybridOffsetLag"`
	// ReplayPolicy is ReplayFromEndOfPush or ReplayFromStartOfPush.
	ReplayPolicy string `json:"replayPolicy"`
	// Compression of put values in version topics: none, gzip, zstd,
	// zstd-dict.
	Compression string `json:"compression"`
	// Chunking splits values above the writer's threshold.
	Chunking bool `json:"chunking"`
	// VersionsToKeep counts the current version and its backups.
	VersionsToKeep int `json:"versionsToKeep"`
	// RTRetention of the RT topic; at least HybridRewind plus a margin.
	RTRetention Duration `json:"rtRetention"`
}

// Defaults a store gets for what its creator leaves out.
var DefaultStoreConfig = StoreConfig{
	Partitions:      4,
	HybridRewind:    Duration(24 * time.Hour),
	HybridOffsetLag: 1000,
	ReplayPolicy:    ReplayFromEndOfPush,
	Compression:     "none",
	Chunking:        true,
	VersionsToKeep:  2,
	RTRetention:     Duration(72 * time.Hour),
}

// Schema is one numbered value schema and what is derived from it.
type Schema struct {
	ID     int32  `json:"id"`
	Schema string `json:"schema"` // Avro JSON
	// UpdateSchema is the derived partial-update schema (stores with
	// partial updates), and UpdateSchemaID its id.
	UpdateSchema   string `json:"updateSchema,omitempty"`
	UpdateSchemaID int32  `json:"updateSchemaId,omitempty"`
	// RMDSchema is the derived replication-metadata schema (active-active).
	RMDSchema string `json:"rmdSchema,omitempty"`
}

// Version statuses.
const (
	StatusStarted    = "started"     // created; the push job is writing
	StatusPushed     = "pushed"      // end-of-push written; replaying / catching up
	StatusOnline     = "online"      // serving or able to (current or backup)
	StatusError      = "error"       // the push or ingestion failed
	StatusKilled     = "killed"      // the push was killed
	StatusRolledBack = "rolled-back" // was current; rolled back from
)

// Version roles.
const (
	RoleFuture  = "future"
	RoleCurrent = "current"
	RoleBackup  = "backup"
	RoleRetired = "retired"
)

// Version is one version of a store.
type Version struct {
	Number      int32  `json:"number"`
	Status      string `json:"status"`
	Role        string `json:"role"`
	Topic       string `json:"topic"`
	Partitions  int32  `json:"partitions"`
	Compression string `json:"compression"`
	Chunking    bool   `json:"chunking"`
	// Dictionary is the zstd dictionary of a zstd-dict version.
	Dictionary    []byte    `json:"dictionary,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	StartOfPushAt time.Time `json:"startOfPushAt,omitzero"`
	EndOfPushAt   time.Time `json:"endOfPushAt,omitzero"`
	// RewindStart (ms since the epoch) is where replay began in the RT
	// topics; 0 before the topic switch.
	RewindStart int64     `json:"rewindStart,omitempty"`
	OnlineAt    time.Time `json:"onlineAt,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// Store is everything the controller knows about a store.
type Store struct {
	Name         string      `json:"name"`
	KeySchema    string      `json:"keySchema"`
	ValueSchemas []Schema    `json:"valueSchemas"`
	SupersetID   int32       `json:"supersetId"`
	Config       StoreConfig `json:"config"`
	// CurrentVersion serves reads; 0 while none does.
	CurrentVersion int32     `json:"currentVersion"`
	Versions       []Version `json:"versions"`
	// RTTopic is the real-time buffer topic, the same name in every region.
	RTTopic string `json:"rtTopic,omitempty"`
	// Revision increases with every change of the store.
	Revision int64 `json:"revision"`
}

// Region is one Kafka cluster and its servers.
type Region struct {
	ID      int32    `json:"id"`
	Name    string   `json:"name"`
	Brokers []string `json:"brokers"`
}

// Cluster describes the regions and where the controller's admin log is.
type Cluster struct {
	Regions []Region `json:"regions"`
	// LocalRegion is the id of the controller's own region.
	LocalRegion int32 `json:"localRegion"`
}

// CreateStoreRequest creates a store with its first value schema.
type CreateStoreRequest struct {
	Name        string       `json:"name"`
	KeySchema   string       `json:"keySchema"`
	ValueSchema string       `json:"valueSchema"`
	Config      *StoreConfig `json:"config,omitempty"` // nil: DefaultStoreConfig
}

// UpdateStoreRequest changes a store's configuration (whole config).
type UpdateStoreRequest struct {
	Config StoreConfig `json:"config"`
}

// AddSchemaRequest registers a new value schema; it must be compatible
// with every registered one.
type AddSchemaRequest struct {
	Schema string `json:"schema"`
}

// StartPushRequest starts a full push (a new future version).
type StartPushRequest struct {
	// Incremental pushes create no version: they go through the RT topic.
	// This request is for full pushes only.
	Sorted bool `json:"sorted"`
	// Dictionary is the zstd dictionary a zstd-dict push trained.
	Dictionary []byte `json:"dictionary,omitempty"`
	// IgnoreRetention starts the push although retention already deleted
	// RT records the replay would need (see the replay plan).
	IgnoreRetention bool `json:"ignoreRetention,omitempty"`
}

// SwapRequest makes a ready version current.
type SwapRequest struct {
	To int32 `json:"to"`
}

// PartitionReplay is one partition's replay progress in one version.
type PartitionReplay struct {
	// Region is set when the cluster has several regions.
	Region    string `json:"region,omitempty"`
	Partition int32  `json:"partition"`
	EndOfPush bool   `json:"endOfPush"`
	// Lag per source region: RT records not yet replayed.
	Lag          map[string]int64 `json:"lag"`
	ReadyToServe bool             `json:"readyToServe"`
}

// ReplayStatus is the replay progress of a version.
type ReplayStatus struct {
	Store       string            `json:"store"`
	Version     int32             `json:"version"`
	RewindStart int64             `json:"rewindStart"`
	Partitions  []PartitionReplay `json:"partitions"`
	Ready       bool              `json:"ready"`
}

// PartitionPlan is the dry run of a replay for one RT partition.
type PartitionPlan struct {
	Region    string `json:"region"`
	Partition int32  `json:"partition"`
	// StartOffset is the RT offset of the rewind start; EndOffset the end.
	StartOffset int64 `json:"startOffset"`
	EndOffset   int64 `json:"endOffset"`
	Records     int64 `json:"records"`
	// Available says the RT topic still holds the rewind start (its
	// log-start offset is not past it).
	Available bool `json:"available"`
}

// ReplayPlan is the dry run of the next replay of a store.
type ReplayPlan struct {
	Store       string          `json:"store"`
	RewindStart int64           `json:"rewindStart"`
	Partitions  []PartitionPlan `json:"partitions"`
	Records     int64           `json:"records"`
	// Complete is false when retention already deleted data the replay
	// needs; a push then requires an explicit override.
	Complete bool `json:"complete"`
}

// AdminRecord is one entry of the controller's compacted admin log. The
// key is Kind + "/" + Name; the value the JSON of the record; a deleted
// store is a record with Deleted set (and later a tombstone).
type AdminRecord struct {
	Kind    string   `json:"kind"` // "store" or "cluster"
	Store   *Store   `json:"store,omitempty"`
	Cluster *Cluster `json:"cluster,omitempty"`
	Deleted bool     `json:"deleted,omitempty"`
}
