package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rialtodb/rialto/server/placement"
	"github.com/rialtodb/rialto/server/storage"
)

// CatalogEntry is a version the servers of a region must place.
type CatalogEntry struct {
	Spec VersionSpec
	// Replication is how many servers hold each partition (the first
	// leads). Default 1.
	Replication int
}

// catalog is the server's view of what must be placed.
type catalog struct {
	revision int64
	entries  map[versionKey]CatalogEntry
}

func (c catalog) placement() placement.Catalog {
	out := placement.Catalog{Revision: c.revision}
	for _, e := range c.entries {
		out.Versions = append(out.Versions, placement.Version{Store: e.Spec.Store, Version: e.Spec.Version, Partitions: e.Spec.Partitions, Replication: e.Replication})
	}
	sort.Slice(out.Versions, func(i, j int) bool {
		a, b := out.Versions[i], out.Versions[j]
		return a.Store < b.Store || (a.Store == b.Store && a.Version < b.Version)
	})
	return out
}

// SetCatalog tells the server which versions the region's servers must
// place. Revisions only move forward; the group re-balances so that every
// server sees the new placement.
func (s *Server) SetCatalog(revision int64, entries ...CatalogEntry) error {
	c := catalog{revision: revision, entries: map[versionKey]CatalogEntry{}}
	for _, e := range entries {
		if e.Spec.Partitions <= 0 || e.Spec.Topic == "" || e.Spec.Store == "" {
			return fmt.Errorf("server: catalog entry %s v%d: store, topic and partitions are required", e.Spec.Store, e.Spec.Version)
		}
		if e.Replication < 1 {
			e.Replication = 1
		}
		c.entries[versionKey{e.Spec.Store, e.Spec.Version}] = e
	}
	s.pl.mu.Lock()
	if revision < s.pl.catalog.revision {
		s.pl.mu.Unlock()
		return fmt.Errorf("server: catalog revision %d is older than %d", revision, s.pl.catalog.revision)
	}
	s.pl.catalog = c
	cl := s.pl.client
	s.pl.mu.Unlock()
	if cl != nil {
		cl.ForceRebalance()
	}
	s.pl.kick()
	return nil
}

// placementState is the server's side of the placement group. Lock order:
// mu, then the Server's mu (reconcile calls Lead under mu).
type placementState struct {
	mu      sync.Mutex
	catalog catalog
	plan    *placement.Plan
	// suspended is set from the moment a rebalance starts or the group
	// membership is lost until the next plan arrives: this server leads
	// nothing meanwhile.
	suspended bool
	client    *kgo.Client
	wake      chan struct{}
}

func (p *placementState) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Plan returns the last placement this server received, if any.
func (s *Server) Plan() (placement.Plan, bool) {
	s.pl.mu.Lock()
	defer s.pl.mu.Unlock()
	if s.pl.plan == nil {
		return placement.Plan{}, false
	}
	return *s.pl.plan, true
}

func (s *Server) member() placement.Member {
	s.pl.mu.Lock()
	defer s.pl.mu.Unlock()
	return placement.Member{ID: s.cfg.ServerID, Addr: s.cfg.AdvertiseAddr, Catalog: s.pl.catalog.placement()}
}

// runPlacement joins the servers' group and reconciles hosting with every
// plan until ctx ends.
func (s *Server) runPlacement(ctx context.Context) error {
	adm := kadm.NewClient(s.vt)
	resp, err := adm.CreateTopic(ctx, 1, s.cfg.ReplicationFactor, nil, s.cfg.PlacementTopic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("server: placement topic %s: %w", s.cfg.PlacementTopic, err)
	}
	bal := &placementBalancer{self: s.member, onPlan: func(p placement.Plan) {
		s.pl.mu.Lock()
		s.pl.plan, s.pl.suspended = &p, false
		s.pl.mu.Unlock()
		s.pl.kick()
	}}
	// Leadership is exercised only under the plan of the group's current
	// generation. The group is eager: every member revokes before it
	// rejoins, so a leader stops before any new plan can name another
	// leader; a member that finds it lost its membership stops at once.
	// Without this, a server left out of a generation (slow to rejoin, or
	// expired while alive) kept leading under its old plan while the new
	// plan's leader started too: two leaders produced into one version
	// topic and the replicas diverged (reliability/crash, long variant).
	stop := func(context.Context, *kgo.Client, map[string][]int32) { s.stopLeading() }
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.GroupProtocol("rialto-placement"),
		kgo.Balancers(bal),
		kgo.ConsumeTopics(s.cfg.PlacementTopic),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		// A member only has to stop its leaders (stopLeading) before it
		// rejoins. The default (60s) let a member that died while joining
		// stall placement for minutes on kfake, which never expires such a
		// member by its session and re-arms the rebalance deadline on
		// every join (reliability/crash: kill -9 during a rejoin left a
		// region without leaders); twice the session timeout bounds that
		// and still leaves the leaders time to stop.
		kgo.RebalanceTimeout(2 * s.cfg.SessionTimeout),
		kgo.OnPartitionsRevoked(stop),
		kgo.OnPartitionsLost(stop),
		kgo.DisableAutoCommit(),
	}, s.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("server: placement group client: %w", err)
	}
	s.pl.mu.Lock()
	s.pl.client = cl
	s.pl.mu.Unlock()
	polled := make(chan struct{})
	defer func() {
		<-polled
		s.pl.mu.Lock()
		s.pl.client = nil
		s.pl.mu.Unlock()
		cl.Close() // leaves the group: the others re-balance at once
	}()
	// Polling keeps the member in the group; it is assigned nothing, so
	// no records are ever fetched.
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.pl.wake:
			s.reconcile(ctx)
		}
	}
}

// stopLeading suspends the plan until the next one arrives and stops
// every leader the plan started; the partitions stay hosted as followers.
func (s *Server) stopLeading() {
	s.pl.mu.Lock()
	s.pl.suspended = true
	s.pl.mu.Unlock()
	var led []storage.PartitionID
	s.mu.Lock()
	for k, hv := range s.versions {
		for p, h := range hv.leaders {
			if h.placed { // leaders started by hand (Lead) are not the plan's to stop
				led = append(led, storage.PartitionID{Store: k.store, Version: k.version, Partition: p})
			}
		}
	}
	s.mu.Unlock()
	// In parallel: the member rejoins (and the rebalance waits) only
	// once every leader has stopped.
	var wg sync.WaitGroup
	for _, id := range led {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Unlead(id.Store, id.Version, id.Partition)
		}()
	}
	wg.Wait()
}

// reconcile makes hosting and leadership match the last plan.
func (s *Server) reconcile(ctx context.Context) {
	s.pl.mu.Lock()
	plan := s.pl.plan
	cat := s.pl.catalog
	suspended := s.pl.suspended
	s.pl.mu.Unlock()
	if plan == nil || suspended {
		return
	}
	want := map[storage.PartitionID]bool{} // → leader
	for _, h := range plan.For(s.cfg.ServerID) {
		want[storage.PartitionID{Store: h.Store, Version: h.Version, Partition: h.Partition.Partition}] = h.Leader
	}
	// Drop what is no longer ours first, so a moved leader stops early.
	for _, st := range s.Status() {
		id := storage.PartitionID{Store: st.Store, Version: st.Version, Partition: st.Partition}
		if _, ok := want[id]; !ok {
			if err := s.Unhost(ctx, id); err != nil {
				s.log.Error("cannot drop a partition placed elsewhere", "partition", id.String(), "err", err)
			}
		}
	}
	for id, lead := range want {
		e, ok := cat.entries[versionKey{id.Store, id.Version}]
		if !ok {
			continue // the plan is newer than our catalog: wait for it
		}
		if err := s.Host(ctx, e.Spec, id.Partition); err != nil {
			s.log.Error("cannot host a placed partition", "partition", id.String(), "err", err)
			continue
		}
		if lead && e.Spec.Schemas != nil {
			// Lead only while this plan is still the current one and not
			// suspended: stopLeading may have run since reconcile began.
			s.pl.mu.Lock()
			var err error
			if s.pl.plan == plan && !s.pl.suspended {
				err = s.lead(id.Store, id.Version, id.Partition, true)
			}
			s.pl.mu.Unlock()
			if err != nil {
				s.log.Error("cannot lead a placed partition", "partition", id.String(), "err", err)
			}
		} else if !lead {
			s.Unlead(id.Store, id.Version, id.Partition)
		}
	}
}

// Unhost stops ingesting a partition and deletes its data.
func (s *Server) Unhost(ctx context.Context, id storage.PartitionID) error {
	s.unlead(id.Store, id.Version, id.Partition, true)
	s.mu.Lock()
	hv := s.versions[versionKey{id.Store, id.Version}]
	var topic string
	if hv != nil {
		topic = hv.spec.Topic
		delete(hv.parts, id.Partition)
		if len(hv.parts) == 0 {
			delete(s.versions, versionKey{id.Store, id.Version})
		}
	}
	s.mu.Unlock()
	if hv == nil {
		return nil
	}
	if err := s.in.drop(ctx, id, topic); err != nil {
		return err
	}
	return s.db.DropPartition(id)
}

// placementBalancer is the group balancer: the elected member computes the
// plan from every member's metadata; every member receives the whole plan.
type placementBalancer struct {
	self   func() placement.Member
	onPlan func(placement.Plan)
}

func (*placementBalancer) ProtocolName() string { return "rialto-placement-v1" }
func (*placementBalancer) IsCooperative() bool  { return false }

func (b *placementBalancer) JoinGroupMetadata([]string, map[string][]int32, int32) []byte {
	return placement.EncodeMember(b.self())
}

func (b *placementBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	plan, err := placement.DecodePlan(assignment)
	if err != nil {
		return nil, err
	}
	b.onPlan(plan)
	return nil, nil // nothing for the client itself to consume
}

func (b *placementBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	ms := make([]placement.Member, 0, len(members))
	ids := make([]string, 0, len(members))
	for _, m := range members {
		pm, err := placement.DecodeMember(m.ProtocolMetadata)
		if err != nil {
			return nil, nil, fmt.Errorf("group member %s: %w", m.MemberID, err)
		}
		ms = append(ms, pm)
		ids = append(ids, m.MemberID)
	}
	plan := placement.Compute(ms).Encode()
	return planForAll{members: ids, plan: plan}, map[string]struct{}{}, nil
}

type planForAll struct {
	members []string
	plan    []byte
}

func (p planForAll) Balance(map[string]int32) kgo.IntoSyncAssignment { return p }

func (p planForAll) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := make([]kmsg.SyncGroupRequestGroupAssignment, len(p.members))
	for i, id := range p.members {
		out[i] = kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: p.plan}
	}
	return out
}
