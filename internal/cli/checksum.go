package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/server"
)

// checksumOutput is `store checksum --output json`.
type checksumOutput struct {
	Store      string           `json:"store"`
	Version    int32            `json:"version"`
	Partitions int32            `json:"partitions"`
	Regions    []regionChecksum `json:"regions"`
	// Agree is set when every region answered completely and all digests
	// are equal.
	Agree bool `json:"agree"`
	// Differ lists, when regions disagree, the partitions whose digests
	// are not the same everywhere.
	Differ []int32 `json:"differ,omitempty"`

	activeActive bool // regions are expected to converge on nearline writes
}

// regionChecksum is one region's digest of the version.
type regionChecksum struct {
	Region     string `json:"region"`
	RegionID   int32  `json:"regionId"`
	Digest     string `json:"digest,omitempty"` // empty when Error is set
	Records    int64  `json:"records"`
	Tombstones int64  `json:"tombstones"`
	// Partitions are the partition digests, each with the server that
	// answered it, in partition order.
	Partitions []partitionChecksum `json:"partitions"`
	// Error says why the region has no digest: which partitions no server
	// could answer, and why.
	Error string `json:"error,omitempty"`
}

type partitionChecksum struct {
	server.PartitionChecksum
	Server string `json:"server"`
}

func newStoreChecksumCmd(app *App) *cobra.Command {
	var store, region string
	var version int32
	cmd := &cobra.Command{
		Use:   "checksum --store STORE [--region R] [--version N]",
		Short: "Compare a version's values and replication metadata across regions",
		Long: `Digest a version of a store in every region (or only --region) and compare
the regions. Each partition's digest is a SHA-256 of its keys, values
(decompressed and reassembled) and replication metadata in key order, taken
from one snapshot by a server of the region that holds the partition and is
ready to serve it (the partition's leader first); the region's digest
combines the partitions' in partition order. Equal digests mean
byte-identical values and metadata.

Prints one line per region. Exits 1 when the regions differ (naming the
partitions, and whether their replay positions differ too: writes still in
flight make regions differ until every region has applied them; a store that
is not active-active applies nearline writes only in the region they were
made in) or when a partition could not be digested in some region.

--output json prints one object: {"store", "version", "partitions",
"regions": [{"region", "regionId", "digest", "records", "tombstones",
"partitions": [{"partition", "records", "tombstones", "digest", "offset",
"upstream", "server"}], "error"}], "agree", "differ"}.`,
		Example: `  # Do all regions hold the same current version of members?
  rialto store checksum --store members

  # One region, a given version, as JSON
  rialto store checksum --store members --region region-2 --version 3 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if cmd.Flags().Changed("version") && version < 1 {
				errs = append(errs, usageErrorf("--version %d: want a version number (1 or more)", version))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := app.store(ctx, store)
			if err != nil {
				return err
			}
			v, err := checksumVersion(st, version)
			if err != nil {
				return err
			}
			cl, err := app.cluster(ctx)
			if err != nil {
				return err
			}
			regions := cl.Regions
			if region != "" {
				r, err := pickRegion(cl, region)
				if err != nil {
					return err
				}
				regions = []api.Region{r}
			}
			out := checksumOutput{Store: st.Name, Version: v.Number, Partitions: v.Partitions, activeActive: st.Config.ActiveActive}
			for _, r := range regions {
				out.Regions = append(out.Regions, app.regionChecksum(ctx, r, st.Name, v.Number, v.Partitions))
			}
			verdict := out.compare()
			if err := app.Print(out.text(), out); err != nil {
				return err
			}
			return verdict
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store (required)")
	f.StringVar(&region, "region", "", "only this region (name or id); default every region")
	f.Int32Var(&version, "version", 0, "version to digest (default: the current version)")
	return cmd
}

// checksumVersion finds the version to digest: n, or the current one.
func checksumVersion(st api.Store, n int32) (api.Version, error) {
	if n == 0 {
		if st.CurrentVersion == 0 {
			return api.Version{}, fmt.Errorf("store %s has no current version; name one with --version", st.Name)
		}
		n = st.CurrentVersion
	}
	var have []string
	for _, v := range st.Versions {
		if v.Number == n {
			return v, nil
		}
		have = append(have, strconv.Itoa(int(v.Number)))
	}
	return api.Version{}, usageErrorf("--version %d: store %s has no such version (versions: %s)", n, st.Name, orDash(strings.Join(have, ", ")))
}

// replicaOf is a server of a region holding a partition.
type replicaOf struct {
	addr   string
	rank   int // 0 ready leader, 1 ready, 2 hosted but not ready
	status string
}

// regionChecksum digests every partition of a version in one region: it
// asks each partition's best replica first (ready leaders, then ready
// followers, then the rest, which answer why they cannot) and the next one
// when that fails. A partition no replica answers makes the region's
// Error.
func (app *App) regionChecksum(ctx context.Context, r api.Region, store string, version, partitions int32) regionChecksum {
	out := regionChecksum{Region: r.Name, RegionID: r.ID, Partitions: []partitionChecksum{}}
	servers, err := app.regionServers(ctx, r)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	replicas := make([][]replicaOf, partitions)
	var serverErrs []string
	for _, addr := range servers {
		status, err := serverStatus(ctx, addr)
		if err != nil {
			serverErrs = append(serverErrs, err.Error())
			continue
		}
		for _, p := range status.Partitions {
			if p.Store != store || p.Version != version || p.Partition < 0 || p.Partition >= partitions {
				continue
			}
			rep := replicaOf{addr: addr, rank: 2}
			switch {
			case p.ReadyToServe && p.Leader:
				rep.rank = 0
			case p.ReadyToServe:
				rep.rank = 1
			}
			replicas[p.Partition] = append(replicas[p.Partition], rep)
		}
	}
	for p := range replicas {
		slices.SortStableFunc(replicas[p], func(a, b replicaOf) int { return a.rank - b.rank })
	}

	got := map[int32]partitionChecksum{}
	why := map[int32][]string{}
	next := make([]int, partitions) // per partition, the next replica to ask
	for {
		// One request per server for the partitions whose next replica it is.
		ask := map[string][]int32{}
		var order []string
		for p := range partitions {
			if _, ok := got[p]; ok || next[p] >= len(replicas[p]) {
				continue
			}
			addr := replicas[p][next[p]].addr
			if ask[addr] == nil {
				order = append(order, addr)
			}
			ask[addr] = append(ask[addr], p)
			next[p]++
		}
		if len(order) == 0 {
			break
		}
		for _, addr := range order {
			resp, err := fetchChecksum(ctx, addr, store, version, ask[addr])
			if err != nil {
				for _, p := range ask[addr] {
					why[p] = append(why[p], err.Error())
				}
				continue
			}
			for _, c := range resp.Partitions {
				got[c.Partition] = partitionChecksum{PartitionChecksum: c, Server: addr}
			}
			for _, m := range resp.Missing {
				why[m.Partition] = append(why[m.Partition], fmt.Sprintf("server %s: %s", addr, m.Reason))
			}
			for _, p := range ask[addr] {
				if _, ok := got[p]; !ok && len(why[p]) == 0 {
					why[p] = append(why[p], fmt.Sprintf("server %s did not answer it", addr))
				}
			}
		}
	}

	var missing []string
	for p := range partitions {
		c, ok := got[p]
		if ok {
			out.Partitions = append(out.Partitions, c)
			out.Records += c.Records
			out.Tombstones += c.Tombstones
			continue
		}
		reasons := why[p]
		if len(replicas[p]) == 0 {
			reasons = append(reasons, "no server of the region hosts it")
		}
		missing = append(missing, fmt.Sprintf("partition %d (%s)", p, strings.Join(reasons, "; ")))
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%d of %d partitions could not be digested: %s", len(missing), partitions, strings.Join(missing, ", "))
		if len(serverErrs) > 0 {
			msg += "; unreachable: " + strings.Join(serverErrs, "; ")
		}
		out.Error = msg
		return out
	}
	parts := make([]server.PartitionChecksum, len(out.Partitions))
	for i, c := range out.Partitions {
		parts[i] = c.PartitionChecksum
	}
	if out.Digest, err = server.CombineChecksums(partitions, parts); err != nil {
		out.Error = err.Error()
	}
	return out
}

// fetchChecksum asks one server for the digests of some partitions.
func fetchChecksum(ctx context.Context, addr, store string, version int32, parts []int32) (server.ChecksumResponse, error) {
	var resp server.ChecksumResponse
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	ps := make([]string, len(parts))
	for i, p := range parts {
		ps[i] = strconv.Itoa(int(p))
	}
	q := url.Values{"version": {strconv.Itoa(int(version))}, "partition": {strings.Join(ps, ",")}}
	u := strings.TrimRight(base, "/") + "/v1/stores/" + url.PathEscape(store) + "/checksum?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return resp, err
	}
	// No client timeout: digesting a large partition reads all of it; the
	// command's context bounds the wait.
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		return resp, fmt.Errorf("server %s: %w", addr, err)
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hr.Body, 64<<20))
	if err != nil {
		return resp, fmt.Errorf("server %s: checksum: %w", addr, err)
	}
	if hr.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return resp, fmt.Errorf("server %s: %s", addr, e.Error)
		}
		return resp, fmt.Errorf("server %s: checksum: %s", addr, hr.Status)
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return resp, fmt.Errorf("server %s: checksum: %w", addr, err)
	}
	return resp, nil
}

// compare fills Agree and Differ and returns the command's verdict: nil
// when every region was digested and all agree.
func (o *checksumOutput) compare() error {
	var failed []string
	var done []regionChecksum
	for _, r := range o.Regions {
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("%s: %s", r.Region, r.Error))
		} else {
			done = append(done, r)
		}
	}
	for p := range o.Partitions {
		for _, r := range done[min(1, len(done)):] {
			if r.Partitions[p].Digest != done[0].Partitions[p].Digest {
				o.Differ = append(o.Differ, p)
				break
			}
		}
	}
	o.Agree = len(failed) == 0 && len(o.Differ) == 0
	var errs []string
	if len(o.Differ) > 0 {
		var ps []string
		for _, p := range o.Differ {
			s := strconv.Itoa(int(p))
			if o.activeActive && !sameUpstream(done, p) {
				s += " (replay positions differ too: writes may still be in flight; run again)"
			}
			ps = append(ps, s)
		}
		msg := fmt.Sprintf("store %s v%d: regions differ in partition %s", o.Store, o.Version, strings.Join(ps, ", "))
		if !o.activeActive {
			msg += " (the store is not active-active: each region applies only the nearline writes made in it)"
		}
		errs = append(errs, msg)
	}
	if len(failed) > 0 {
		errs = append(errs, fmt.Sprintf("store %s v%d: no digest in %s", o.Store, o.Version, strings.Join(failed, "; ")))
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// sameUpstream reports whether every region's replica of partition p had
// applied the same RT offsets of every source region.
func sameUpstream(regions []regionChecksum, p int32) bool {
	for _, r := range regions[1:] {
		if !slices.Equal(r.Partitions[p].Upstream, regions[0].Partitions[p].Upstream) {
			return false
		}
	}
	return true
}

// text is the text form: one line per region, then the verdict when more
// than one region was compared.
func (o *checksumOutput) text() string {
	var b strings.Builder
	for _, r := range o.Regions {
		if r.Error != "" {
			fmt.Fprintf(&b, "%s (id %d): store %s v%d: no digest: %s\n", r.Region, r.RegionID, o.Store, o.Version, r.Error)
			continue
		}
		fmt.Fprintf(&b, "%s (id %d): store %s v%d: %s (%d records, %d tombstones, %d partitions)\n",
			r.Region, r.RegionID, o.Store, o.Version, r.Digest, r.Records, r.Tombstones, len(r.Partitions))
	}
	if len(o.Regions) > 1 && o.Agree {
		fmt.Fprintf(&b, "all %d regions agree\n", len(o.Regions))
	}
	return b.String()
}
