package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/storage"
)

// TestStoreChecksum runs `rialto store checksum` against `rialto dev
// --regions 2`: an active-active store written in both regions at equal
// timestamps agrees everywhere; a single-region store written in one region
// only differs, and the command says so and fails.
func TestStoreChecksum(t *testing.T) {
	url := devController(t, "--regions", "2")
	mustRun(t, url, "store", "create", "--name", "prefs", "--key-schema", "string", "--value-schema", prefsSchema,
		"--partial-update", "--active-active", "--partitions", "2")
	const ts = "1700000000000"
	for _, w := range [][]string{
		{"write", "put", "--store", "prefs", "--key", "u1", "--region", "region-1", "--value", `{"theme":"dark","langs":["go"]}`},
		{"write", "put", "--store", "prefs", "--key", "u1", "--region", "region-2", "--value", `{"theme":"light","langs":["rust"]}`},
		{"write", "update", "--store", "prefs", "--key", "u2", "--region", "region-2", "--add", `langs="zig"`},
		{"write", "put", "--store", "prefs", "--key", "u3", "--region", "region-1", "--value", `{"theme":"x"}`},
	} {
		mustRun(t, url, append(w, "--timestamp", ts, "--wait")...)
	}
	mustRun(t, url, "write", "delete", "--store", "prefs", "--key", "u3", "--region", "region-2", "--timestamp", "1700000000001", "--wait")

	text := mustRun(t, url, "store", "checksum", "--store", "prefs")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "region-1 (id 1): store prefs v1: ") ||
		!strings.HasPrefix(lines[1], "region-2 (id 2): store prefs v1: ") || lines[2] != "all 2 regions agree" {
		t.Fatalf("text output:\n%s", text)
	}
	if !strings.Contains(lines[0], "(3 records, 1 tombstones, 2 partitions)") {
		t.Errorf("region-1 line: %s", lines[0])
	}
	digest := func(line string) string {
		_, rest, _ := strings.Cut(line, " v1: ")
		d, _, _ := strings.Cut(rest, " ")
		return d
	}
	if d := digest(lines[0]); len(d) != 64 || d != digest(lines[1]) {
		t.Fatalf("digests %q and %q", d, digest(lines[1]))
	}

	var out checksumOutput
	js := mustRun(t, url, "-o", "json", "store", "checksum", "--store", "prefs", "--version", "1")
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	if !out.Agree || out.Store != "prefs" || out.Version != 1 || out.Partitions != 2 || len(out.Regions) != 2 || len(out.Differ) != 0 {
		t.Fatalf("json output: %s", js)
	}
	for _, r := range out.Regions {
		if r.Digest != digest(lines[0]) || r.Records != 3 || r.Tombstones != 1 || len(r.Partitions) != 2 || r.Error != "" {
			t.Fatalf("region %s: %+v", r.Region, r)
		}
		parts := make([]server.PartitionChecksum, 2)
		for i, p := range r.Partitions {
			if p.Partition != int32(i) || p.Server == "" || len(p.Digest) != 64 {
				t.Fatalf("region %s partition %d: %+v", r.Region, i, p)
			}
			parts[i] = p.PartitionChecksum
		}
		if d, err := server.CombineChecksums(2, parts); err != nil || d != r.Digest {
			t.Fatalf("region %s: the partitions combine to %q (%v), the region says %q", r.Region, d, err, r.Digest)
		}
	}

	one := mustRun(t, url, "store", "checksum", "--store", "prefs", "--region", "2")
	if l := strings.Split(strings.TrimSpace(one), "\n"); len(l) != 1 || l[0] != lines[1] {
		t.Fatalf("--region 2:\n%s", one)
	}

	// A single-region store applies a write only in the region it was
	// written to: the regions differ until the other region gets it too.
	mustRun(t, url, "store", "create", "--name", "solo", "--key-schema", "string", "--value-schema", prefsSchema, "--partitions", "2")
	mustRun(t, url, "write", "put", "--store", "solo", "--key", "u1", "--region", "region-1", "--value", `{"theme":"dark"}`, "--wait")
	code, stdout, stderr := runCLI(t, url, "store", "checksum", "--store", "solo")
	if code != 1 || strings.Count(stdout, "\n") != 2 || strings.Contains(stdout, "agree") ||
		!strings.HasPrefix(stderr, "rialto: store solo v1: regions differ in partition ") || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "not active-active") {
		t.Fatalf("differing regions: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, url, "-o", "json", "store", "checksum", "--store", "solo")
	out = checksumOutput{}
	if err := json.Unmarshal([]byte(stdout), &out); code != 1 || err != nil || out.Agree || len(out.Differ) != 1 {
		t.Fatalf("differing regions, json: exit %d, %v: %s", code, err, stdout)
	}
	mustRun(t, url, "write", "put", "--store", "solo", "--key", "u1", "--region", "region-2", "--value", `{"theme":"dark"}`, "--wait")
	mustRun(t, url, "store", "checksum", "--store", "solo")

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"store", "checksum"}, 2, "--store: required"},
		{[]string{"store", "checksum", "--store", "nosuch"}, 1, `store "nosuch" does not exist`},
		{[]string{"store", "checksum", "--store", "prefs", "--version", "9"}, 2, "--version 9: store prefs has no such version (versions: 1)"},
		{[]string{"store", "checksum", "--store", "prefs", "--version", "0"}, 2, "--version 0"},
		{[]string{"store", "checksum", "--store", "prefs", "--region", "region-9"}, 2, `--region "region-9": no such region`},
		{[]string{"store", "checksum", "--store", "prefs", "extra"}, 2, "takes no arguments"},
	} {
		code, stdout, stderr := runCLI(t, url, tc.args...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("rialto %s: exit %d (want %d)\nstdout: %s\nstderr: %s(want %q)", strings.Join(tc.args, " "), code, tc.code, stdout, stderr, tc.want)
		}
	}
}

// TestChecksumVerdict: a region without a digest fails the command even
// when the others agree, and says which partitions and why.
func TestChecksumVerdict(t *testing.T) {
	part := func(p int32, d string) partitionChecksum {
		return partitionChecksum{PartitionChecksum: server.PartitionChecksum{Partition: p, Digest: d}}
	}
	ok := regionChecksum{Region: "region-1", Digest: "aa", Partitions: []partitionChecksum{part(0, "x"), part(1, "y")}}
	alike := ok
	alike.Region = "region-3"
	broken := regionChecksum{Region: "region-2", Error: "1 of 2 partitions could not be digested: partition 1 (no server of the region hosts it)"}
	o := checksumOutput{Store: "s", Version: 4, Partitions: 2, Regions: []regionChecksum{ok, broken, alike}}
	err := o.compare()
	if err == nil || o.Agree || len(o.Differ) != 0 || err.Error() != "store s v4: no digest in region-2: 1 of 2 partitions could not be digested: partition 1 (no server of the region hosts it)" {
		t.Fatalf("compare = %v, %+v", err, o)
	}
	if text := o.text(); !strings.Contains(text, "region-2 (id 0): store s v4: no digest: 1 of 2") || strings.Contains(text, "agree") {
		t.Fatalf("text:\n%s", text)
	}

	other := ok
	other.Region, other.Digest = "region-2", "bb"
	other.Partitions = []partitionChecksum{part(0, "x"), part(1, "z")}
	other.Partitions[1].Upstream = nil
	o = checksumOutput{Store: "s", Version: 4, Partitions: 2, Regions: []regionChecksum{ok, other}, activeActive: true}
	if err := o.compare(); err == nil || err.Error() != "store s v4: regions differ in partition 1" || o.Agree || len(o.Differ) != 1 {
		t.Fatalf("compare = %v, %+v", err, o)
	}
	// Replay positions that differ are named as the likely reason.
	other.Partitions[1].Upstream = []storage.UpstreamOffset{{Region: 1, Partition: 1, Offset: 5}}
	o = checksumOutput{Store: "s", Version: 4, Partitions: 2, Regions: []regionChecksum{ok, other}, activeActive: true}
	if err := o.compare(); err == nil || !strings.HasSuffix(err.Error(), "partition 1 (replay positions differ too: writes may still be in flight; run again)") {
		t.Fatalf("compare = %v", err)
	}
}
