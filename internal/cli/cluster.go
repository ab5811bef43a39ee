package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/placement"
)

// DefaultServerGroup is the servers' placement group, where commands that
// read (read, write --wait) find a region's servers.
const (
	DefaultServerGroup = "rialto-servers"
	ServerGroupEnv     = "RIALTO_SERVER_GROUP"
)

// ctl is the controller's client.
func (app *App) ctl() *client.Client { return client.New(app.Controller, client.Token(app.Token)) }

// store fetches a store, saying so plainly when it does not exist.
func (app *App) store(ctx context.Context, name string) (api.Store, error) {
	st, err := app.ctl().Store(ctx, name)
	if client.NotFound(err) {
		return st, fmt.Errorf("store %q does not exist (see 'rialto store list')", name)
	}
	return st, err
}

// cluster fetches the regions from the controller.
func (app *App) cluster(ctx context.Context) (api.Cluster, error) {
	cl, err := app.ctl().Cluster(ctx)
	if err != nil {
		return cl, err
	}
	if len(cl.Regions) == 0 {
		return cl, errors.New("the controller knows no region")
	}
	return cl, nil
}

// pickRegion finds --region: a region's name or its id; "" is the first
// region.
func pickRegion(cl api.Cluster, spec string) (api.Region, error) {
	if spec == "" {
		return cl.Regions[0], nil
	}
	for _, r := range cl.Regions {
		if r.Name == spec {
			return r, nil
		}
	}
	if n, err := strconv.ParseInt(spec, 10, 32); err == nil {
		for _, r := range cl.Regions {
			if r.ID == int32(n) {
				return r, nil
			}
		}
	}
	return api.Region{}, usageErrorf("--region %q: no such region; the cluster has %s", spec, regionList(cl))
}

func regionList(cl api.Cluster) string {
	var parts []string
	for _, r := range cl.Regions {
		parts = append(parts, fmt.Sprintf("%s (id %d)", r.Name, r.ID))
	}
	return strings.Join(parts, ", ")
}

func regionName(cl api.Cluster, id int32) string {
	for _, r := range cl.Regions {
		if r.ID == id {
			return r.Name
		}
	}
	return fmt.Sprintf("region %d", id)
}

// serverGroup is the servers' placement group name.
func (app *App) serverGroup() string {
	if g := app.Getenv(ServerGroupEnv); g != "" {
		return g
	}
	return DefaultServerGroup
}

// regionServers lists the read addresses of a region's servers: the
// members of its placement group, as the controller finds them. While the
// group rebalances (a server joins, or rejoins with a new catalog after a
// version change) its members carry no metadata; the lookup retries for a
// while before it says no server runs.
func (app *App) regionServers(ctx context.Context, r api.Region) ([]string, error) {
	cl, err := app.kafkaClient(ctx, r)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	for {
		addrs, state, err := groupAddrs(ctx, adm, app.serverGroup())
		if err != nil {
			return nil, fmt.Errorf("region %s: finding the servers (group %s): %w", r.Name, app.serverGroup(), err)
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("region %s: no server is running (group %s is %s, no member with a read address)", r.Name, app.serverGroup(), orDash(state))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// groupAddrs reads the members' read addresses from a placement group.
func groupAddrs(ctx context.Context, adm *kadm.Client, group string) ([]string, string, error) {
	groups, err := adm.DescribeGroups(ctx, group)
	if err == nil {
		err = groups.Error()
	}
	if err != nil {
		return nil, "", err
	}
	var addrs []string
	state := ""
	for _, g := range groups {
		state = g.State
		for _, m := range g.Members {
			raw, ok := m.Join.Raw()
			if !ok {
				continue
			}
			member, err := placement.DecodeMember(raw)
			if err != nil || member.Addr == "" {
				continue
			}
			addrs = append(addrs, member.Addr)
		}
	}
	sort.Strings(addrs)
	return addrs, state, nil
}

// serverStatus is GET /v1/status of one server.
func serverStatus(ctx context.Context, addr string) (server.StatusResponse, error) {
	var st server.StatusResponse
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("server %s: status %s", addr, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("server %s: status: %w", addr, err)
	}
	return st, nil
}

// schemaArg reads a schema given as FILE or JSON: text that starts like
// JSON is JSON, anything else names a file. The result must parse as Avro.
func schemaArg(flag, arg string) (string, error) {
	text := strings.TrimSpace(arg)
	if text == "" {
		return "", usageErrorf("%s: empty", flag)
	}
	if !looksLikeJSON(text) {
		b, err := os.ReadFile(arg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && isPrimitive(text) {
				text = strconv.Quote(text) // --key-schema string
			} else {
				return "", usageErrorf("%s %q: neither JSON nor a readable file: %v", flag, arg, err)
			}
		} else {
			text = strings.TrimSpace(string(b))
		}
	}
	if !json.Valid([]byte(text)) {
		return "", usageErrorf("%s: not valid JSON: %s", flag, jsonError(text))
	}
	if _, err := avro.Parse(text); err != nil {
		return "", usageErrorf("%s: not an Avro schema: %v", flag, err)
	}
	return text, nil
}

func looksLikeJSON(s string) bool {
	return s != "" && strings.ContainsRune(`{["`, rune(s[0]))
}

func isPrimitive(s string) bool {
	switch s {
	case "string", "bytes", "int", "long", "float", "double", "boolean":
		return true
	}
	return false
}

// jsonError says where JSON text is broken.
func jsonError(text string) string {
	var v any
	err := json.Unmarshal([]byte(text), &v)
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// latestSchema is the store's newest value schema.
func latestSchema(st api.Store) (api.Schema, error) {
	if len(st.ValueSchemas) == 0 {
		return api.Schema{}, fmt.Errorf("store %q has no value schema", st.Name)
	}
	latest := st.ValueSchemas[0]
	for _, s := range st.ValueSchemas {
		if s.ID > latest.ID {
			latest = s
		}
	}
	return latest, nil
}

// schemaByID finds a value schema of the store.
func schemaByID(st api.Store, id int32) (avro.Schema, error) {
	for _, s := range st.ValueSchemas {
		if s.ID == id {
			return avro.Parse(s.Schema)
		}
	}
	return nil, fmt.Errorf("store %q has no value schema %d", st.Name, id)
}
