package avrox_test

import (
	"bytes"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
)

// fuzzSchemas are the schemas FuzzSkipCompare decodes with; the first input
// byte picks one. fuzzReaders are resolution targets for the same index.
var fuzzSchemas = []avro.Schema{
	avro.MustParse(`{"type":"record","name":"V","fields":[
		{"name":"id","type":"long"},
		{"name":"name","type":["null","string"],"order":"descending"},
		{"name":"emb","type":{"type":"array","items":"float"}},
		{"name":"attrs","type":{"type":"map","values":["null","double","bytes"]}},
		{"name":"tags","type":{"type":"array","items":"string"}},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]},"order":"ignore"},
		{"name":"fx","type":{"type":"fixed","name":"F","size":3}},
		{"name":"ok","type":"boolean"}]}`),
	avro.MustParse(`{"type":"record","name":"N","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","N"]},
		{"name":"kids","type":{"type":"array","items":"N"}}]}`),
	avro.MustParse(`{"type":"map","values":{"type":"array","items":{"type":"map","values":"long"}}}`),
	avro.MustParse(`["null","int","string",{"type":"array","items":"double"}]`),
}

var fuzzReaders = []avro.Schema{
	avro.MustParse(`{"type":"record","name":"V","fields":[
		{"name":"tags","type":{"type":"array","items":"bytes"}},
		{"name":"id","type":"double"},
		{"name":"emb","type":{"type":"array","items":"double"}},
		{"name":"x","type":"string","default":"d"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["B","A"]}},
		{"name":"name","type":["string","null"]}]}`),
	avro.MustParse(`{"type":"record","name":"N","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","N"]},
		{"name":"kids","type":{"type":"array","items":"N"}}]}`),
	avro.MustParse(`{"type":"map","values":{"type":"array","items":{"type":"map","values":"double"}}}`),
	avro.MustParse(`["null","long","bytes",{"type":"array","items":"double"}]`),
}

func FuzzSkipCompare(f *testing.F) {
	f.Add(byte(0), []byte{2, 0, 0, 0, 0, 0}, []byte{4, 0})
	f.Add(byte(1), []byte{2, 2, 4, 0, 0}, []byte{2, 0, 0})
	f.Add(byte(2), []byte{2, 2, 'k', 2, 2, 2, 'a', 4, 0, 0, 0}, []byte{0})
	f.Add(byte(3), []byte{6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0}, []byte{2, 5})
	f.Fuzz(func(t *testing.T, which byte, a, b []byte) {
		i := int(which) % len(fuzzSchemas)
		s := fuzzSchemas[i]
		keepA, keepB := bytes.Clone(a), bytes.Clone(b)
		na, errA := avrox.Skip(s, a)
		nb, errB := avrox.Skip(s, b)
		ca, errC := avrox.Compare(s, a, b)
		if errA == nil && errB == nil {
			if errC != nil {
				t.Fatalf("Compare failed on valid values: %v", errC)
			}
			cb, err := avrox.Compare(s, b, a)
			if err != nil || cb != -ca {
				t.Fatalf("Compare not antisymmetric: %d %d %v", ca, cb, err)
			}
			if c, err := avrox.Compare(s, a, a); err != nil || c != 0 {
				t.Fatalf("Compare(a, a) = %d, %v", c, err)
			}
			j, n, err := avrox.ToJSON(s, a)
			if err != nil || n != na {
				t.Fatalf("ToJSON read %d of %d: %v", n, na, err)
			}
			// JSON of invalid UTF-8 strings is lossy, so only check that
			// reading it back does not panic.
			_, _ = avrox.FromJSON(s, j)
			if rs, ok := s.(*avro.RecordSchema); ok {
				spans, n, err := avrox.RecordSpans(rs, a, nil)
				if err != nil || n != na || len(spans) != len(rs.Fields()) {
					t.Fatalf("RecordSpans disagrees with Skip: %v", err)
				}
			}
			_ = nb
		} else if errC == nil {
			t.Fatalf("Compare accepted invalid input: %v %v", errA, errB)
		}
		if z, err := avrox.NewResolver(s, fuzzReaders[i]); err == nil {
			out, n, err := z.Append(nil, a)
			if err == nil {
				if errA != nil || n != na {
					t.Fatalf("resolver read %d, skip %d (%v)", n, na, errA)
				}
				if err := avrox.Validate(fuzzReaders[i], out); err != nil {
					t.Fatalf("resolver wrote an invalid value: %v", err)
				}
			}
		} else {
			t.Fatalf("fuzz resolver: %v", err)
		}
		if !bytes.Equal(a, keepA) || !bytes.Equal(b, keepB) {
			t.Fatal("input modified")
		}
	})
}
