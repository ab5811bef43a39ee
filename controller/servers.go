package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/replay"
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

// replayStatus gathers a version's readiness in every region: the
// replicas' statuses from the servers, and the RT topics the region's
// leaders replay (its own, or every region's for active-active stores),
// listed at the rewind start, decided by package replay.
func (c *Controller) replayStatus(ctx context.Context, s *api.Store, v api.Version) (api.ReplayStatus, string, error) {
	out := api.ReplayStatus{Store: s.Name, Version: v.Number, RewindStart: v.RewindStart, Ready: true}
	names := map[int32]string{}
	for _, r := range c.cfg.Regions {
		names[r.ID] = r.Name
	}
	failed := ""
	for _, r := range c.regions {
		sts, err := c.serverStatuses(ctx, r)
		if err != nil {
			return out, "", err
		}
		var sources []replay.Source
		if s.RTTopic != "" && v.RewindStart != 0 {
			for _, src := range c.regions {
				if src != r && !s.Config.ActiveActive {
					continue
				}
				ls, err := replay.ListSource(ctx, src.adm, src.region.Name, src.region.ID, s.RTTopic, v.RewindStart)
				if err != nil {
					return out, "", err
				}
				sources = append(sources, ls)
			}
		}
		region := ""
		if len(c.regions) > 1 {
			region = r.region.Name
		}
		rs, f := replay.Status(*s, v, region, sts, sources, names)
		if f != "" && failed == "" {
			failed = fmt.Sprintf("region %s %s", r.region.Name, f)
		}
		out.Ready = out.Ready && rs.Ready
		out.Partitions = append(out.Partitions, rs.Partitions...)
	}
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
// puts versions whose ingestion failed in error. Each time this controller
// becomes the active one it first deletes the topics retired versions
// left behind.
func (c *Controller) monitor(ctx context.Context) error {
	t := time.NewTicker(c.cfg.MonitorInterval)
	defer t.Stop()
	swept := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !c.leader.Load() {
			swept = false
			continue
		}
		if !swept {
			if err := c.deleteRetiredTopics(ctx); err != nil {
				c.log.Warn("cannot delete the topics of retired versions; retrying", "err", err)
			} else {
				swept = true
			}
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

// deleteRetiredTopics deletes the version topics of retired versions
// (replaced, killed or failed) that still exist in some region. A version
// is retired by an admin log record first and its topic deleted after, so
// a controller that dies in between leaves the topic to the next one.
func (c *Controller) deleteRetiredTopics(ctx context.Context) error {
	stores, err := listStores(c.db.Txn(false))
	if err != nil {
		return err
	}
	retired := map[string]bool{}
	for _, s := range stores {
		for _, v := range s.Versions {
			if v.Role == api.RoleRetired {
				retired[v.Topic] = true
			}
		}
	}
	if len(retired) == 0 {
		return nil
	}
	var left []string
	for _, r := range c.regions {
		topics, err := r.adm.ListTopics(ctx)
		if err != nil {
			return fmt.Errorf("region %s: list topics: %w", r.region.Name, err)
		}
		for _, name := range topics.Names() {
			if retired[name] && !slices.Contains(left, name) {
				left = append(left, name)
			}
		}
	}
	if len(left) == 0 {
		return nil
	}
	c.log.Info("deleting the topics of retired versions", "topics", left)
	return c.deleteTopics(ctx, left...)
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
