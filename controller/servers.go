package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/placement"
)

var statusClient = &http.Client{Timeout: 3 * time.Second}

// serverStatuses asks every server of a region (the members of its
// placement group) for the partitions it hosts.
func (c *Controller) serverStatuses(ctx context.Context, r *regionClients) ([]server.PartitionStatus, error) {
	groups, err := r.adm.DescribeGroups(ctx, c.cfg.ServerGroup)
	if err != nil {
		return nil, fmt.Errorf("region %s: servers group: %w", r.region.Name, err)
	}
	var out []server.PartitionStatus
	for _, g := range groups {
		for _, m := range g.Members {
			raw, ok := m.Join.Raw()
			if !ok {
				continue
			}
			member, err := placement.DecodeMember(raw)
			if err != nil || member.Addr == "" {
				continue
			}
			st, err := fetchStatus(ctx, member.Addr)
			if err != nil {
				c.log.Warn("server status unavailable", "region", r.region.Name, "server", member.ID, "err", err)
				continue
			}
			out = append(out, st.Partitions...)
		}
	}
	return out, nil
}

func fetchStatus(ctx context.Context, addr string) (server.StatusResponse, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+"/v1/status", nil)
	if err != nil {
		return server.StatusResponse{}, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return server.StatusResponse{}, err
	}
	defer resp.Body.Close()
	var st server.StatusResponse
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// replayStatus gathers a version's per-partition readiness in every region.
func (c *Controller) replayStatus(ctx context.Context, s *api.Store, v api.Version) (api.ReplayStatus, string, error) {
	out := api.ReplayStatus{Store: s.Name, Version: v.Number, RewindStart: v.RewindStart, Ready: true}
	failed := ""
	for _, r := range c.regions {
		sts, err := c.serverStatuses(ctx, r)
		if err != nil {
			return out, "", err
		}
		byPart := map[int32][]server.PartitionStatus{}
		for _, st := range sts {
			if st.Store == s.Name && st.Version == v.Number {
				byPart[st.Partition] = append(byPart[st.Partition], st)
			}
		}
		for p := int32(0); p < v.Partitions; p++ {
			pr := api.PartitionReplay{Partition: p, Lag: map[string]int64{}}
			if len(c.regions) > 1 {
				pr.Region = r.region.Name
			}
			var served, leaderSeen bool
			for _, st := range byPart[p] {
				if st.Failed != "" && failed == "" {
					failed = fmt.Sprintf("region %s partition %d: %s", r.region.Name, p, st.Failed)
				}
				pr.EndOfPush = pr.EndOfPush || st.EndOfPush
				served = served || st.ReadyToServe
				if st.Leader {
					leaderSeen = true
					for region, lag := range st.ReplayLag {
						pr.Lag[c.regionName(region)] += lag
					}
				}
			}
			pr.ReadyToServe = served
			if s.RTTopic != "" && v.RewindStart != 0 {
				var total int64
				for _, l := range pr.Lag {
					total += l
				}
				pr.ReadyToServe = served && leaderSeen && total <= s.Config.HybridOffsetLag
			}
			out.Ready = out.Ready && pr.ReadyToServe
			out.Partitions = append(out.Partitions, pr)
		}
	}
	sort.SliceStable(out.Partitions, func(i, j int) bool { return out.Partitions[i].Partition < out.Partitions[j].Partition })
	return out, failed, nil
}

func (c *Controller) regionName(id int32) string {
	for _, r := range c.cfg.Regions {
		if r.ID == id {
			return r.Name
		}
	}
	return fmt.Sprint(id)
}

// versionReady applies ARCHITECTURE invariant 5 to a pushed version.
func (c *Controller) versionReady(ctx context.Context, s *api.Store, v api.Version) (bool, string, error) {
	st, failed, err := c.replayStatus(ctx, s, v)
	if err != nil {
		return false, "", err
	}
	if failed != "" {
		return false, failed, nil
	}
	for _, p := range st.Partitions {
		if !p.ReadyToServe {
			switch {
			case !p.EndOfPush:
				return false, fmt.Sprintf("partition %d has not consumed end-of-push", p.Partition), nil
			default:
				return false, fmt.Sprintf("partition %d is catching up (replay lag %v, threshold %d)", p.Partition, p.Lag, s.Config.HybridOffsetLag), nil
			}
		}
	}
	return true, "", nil
}

// monitor swaps pushed versions in once every partition is ready, and
// puts versions whose ingestion failed in error.
func (c *Controller) monitor(ctx context.Context) error {
	t := time.NewTicker(c.cfg.MonitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !c.leader.Load() {
			continue
		}
		names, err := storesWithStatus(c.db.Txn(false), api.StatusPushed)
		if err != nil {
			return err
		}
		for _, name := range names {
			c.checkPush(ctx, name)
		}
	}
}

func (c *Controller) checkPush(ctx context.Context, name string) {
	s, err := c.Store(name)
	if err != nil {
		return
	}
	for _, v := range s.Versions {
		if v.Status != api.StatusPushed {
			continue
		}
		st, failed, err := c.replayStatus(ctx, &s, v)
		if err != nil {
			c.log.Warn("cannot check a push", "store", name, "version", v.Number, "err", err)
			continue
		}
		if failed != "" {
			c.log.Error("version failed to ingest", "store", name, "version", v.Number, "reason", failed)
			if _, err := c.endVersion(ctx, name, v.Number, api.StatusError, failed); err != nil {
				c.log.Error("cannot mark the version in error", "store", name, "version", v.Number, "err", err)
			}
			continue
		}
		if st.Ready {
			if _, err := c.Swap(ctx, name, v.Number); err != nil {
				c.log.Warn("swap failed", "store", name, "version", v.Number, "err", err)
			} else {
				c.log.Info("version is current", "store", name, "version", v.Number)
			}
		}
	}
}
