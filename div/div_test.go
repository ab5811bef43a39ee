package div

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/rialtodb/rialto/internal/wire"
)

// producer frames records the way the writer does, so tests can build
// streams and then damage them.
type producer struct {
	guid     wire.GUID
	segment  int32
	sequence int32
	crc      wire.SegmentChecksum
}

type rec struct {
	key, value []byte
	label      string
}

func newProducer(id byte) *producer { return &producer{guid: wire.GUID{id}} }

func (p *producer) next(e *wire.Envelope, key []byte, label string) rec {
	e.Producer = wire.Producer{GUID: p.guid, Segment: p.segment, Sequence: p.sequence, ProducerTimestamp: 1}
	p.sequence++
	v := wire.AppendValue(nil, e)
	return rec{key, v, label}
}

func (p *producer) start() rec {
	p.sequence = 0
	p.crc.Reset()
	return p.next(&wire.Envelope{Type: wire.TypeControl, Control: wire.Control{Type: wire.ControlStartOfSegment, StartOfSegment: wire.StartOfSegment{ChecksumType: wire.ChecksumCRC32C}}},
		wire.AppendControlKey(nil, p.guid, p.segment, 0), fmt.Sprintf("sos %02x/%d", p.guid[0], p.segment))
}

func (p *producer) put(k string) rec {
	key := wire.AppendDataKey(nil, []byte(k))
	r := p.next(&wire.Envelope{Type: wire.TypePut, Put: wire.Put{SchemaID: 1, Value: []byte("value-" + k)}}, key, "put "+k)
	p.crc.Add(r.key, r.value)
	return r
}

func (p *producer) end(final bool) rec {
	seq := p.sequence
	r := p.next(&wire.Envelope{Type: wire.TypeControl, Control: wire.Control{Type: wire.ControlEndOfSegment, EndOfSegment: wire.EndOfSegment{ChecksumType: wire.ChecksumCRC32C, ChecksumValue: p.crc.Sum(), Final: final}}},
		wire.AppendControlKey(nil, p.guid, p.segment, seq), fmt.Sprintf("eos %02x/%d", p.guid[0], p.segment))
	p.segment++
	return r
}

func run(v *Validator, recs []rec) []string {
	var out []string
	var e wire.Envelope
	for _, r := range recs {
		res := v.ValidateRecord(r.key, r.value, &e)
		out = append(out, r.label+": "+res.Verdict.String())
	}
	return out
}

func TestClassification(t *testing.T) {
	type stream func() []rec
	cases := []struct {
		name   string
		stream stream
		want   string
	}{
		{"clean segment", func() []rec {
			p := newProducer(1)
			return []rec{p.start(), p.put("a"), p.put("b"), p.end(true)}
		}, "sos 01/0: ok, put a: ok, put b: ok, eos 01/0: ok"},
		{"duplicate record", func() []rec {
			p := newProducer(1)
			a := p.put
			s, r1 := p.start(), a("a")
			return []rec{s, r1, r1, p.put("b"), p.end(false)}
		}, "sos 01/0: ok, put a: ok, put a: duplicate, put b: ok, eos 01/0: ok"},
		{"gap", func() []rec {
			p := newProducer(1)
			s, a, _, c := p.start(), p.put("a"), p.put("b"), p.put("c")
			return []rec{s, a, c, p.end(true)}
		}, "sos 01/0: ok, put a: ok, put c: missing, eos 01/0: ok"},
		{"flipped byte", func() []rec {
			p := newProducer(1)
			s, a, b := p.start(), p.put("a"), p.put("b")
			b.value = append([]byte{}, b.value...)
			b.value[len(b.value)-4] ^= 0x20 // last byte of the value (then three null unions): still decodes
			return []rec{s, a, b, p.end(true)}
		}, "sos 01/0: ok, put a: ok, put b: ok, eos 01/0: corrupt"},
		{"undecodable", func() []rec {
			p := newProducer(1)
			s, a := p.start(), p.put("a")
			a.value = a.value[:5]
			return []rec{s, a}
		}, "sos 01/0: ok, put a: corrupt"},
		{"unregistered producer", func() []rec {
			p := newProducer(1)
			p.start()
			return []rec{p.put("a"), p.put("b")}
		}, "put a: unregistered, put b: ok"},
		{"segments rotate", func() []rec {
			p := newProducer(1)
			return []rec{p.start(), p.put("a"), p.end(false), p.start(), p.put("b"), p.end(true)}
		}, "sos 01/0: ok, put a: ok, eos 01/0: ok, sos 01/1: ok, put b: ok, eos 01/1: ok"},
		{"abandoned segment is not a fault", func() []rec {
			p := newProducer(1)
			s, a := p.start(), p.put("a")
			p.put("lost") // produce failed: the writer abandons segment 0
			p.segment++
			return []rec{s, a, p.start(), p.put("b"), p.end(true)}
		}, "sos 01/0: ok, put a: ok, sos 01/1: ok, put b: ok, eos 01/1: ok"},
		{"lost segment start", func() []rec {
			p := newProducer(1)
			s, a, e := p.start(), p.put("a"), p.end(false)
			p.start()
			return []rec{s, a, e, p.put("b"), p.end(true)}
		}, "sos 01/0: ok, put a: ok, eos 01/0: ok, put b: missing, eos 01/1: ok"},
		{"old segment replayed", func() []rec {
			p := newProducer(1)
			s0, a := p.start(), p.put("a")
			e0 := p.end(false)
			return []rec{s0, a, e0, p.start(), p.put("b"), s0, a}
		}, "sos 01/0: ok, put a: ok, eos 01/0: ok, sos 01/1: ok, put b: ok, sos 01/0: duplicate, put a: duplicate"},
		{"two producers interleaved", func() []rec {
			p, q := newProducer(1), newProducer(2)
			return []rec{p.start(), q.start(), p.put("a"), q.put("x"), q.end(true), p.put("b"), p.end(true)}
		}, "sos 01/0: ok, sos 02/0: ok, put a: ok, put x: ok, eos 02/0: ok, put b: ok, eos 01/0: ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(run(New(0), tc.stream()), ", ")
			if got != tc.want {
				t.Fatalf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// TestCheckpointResumes: validating a stream in one go equals validating a
// prefix, checkpointing, restoring into a fresh validator and going on.
func TestCheckpointResumes(t *testing.T) {
	seed := rand.Int63()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for iter := 0; iter < 200; iter++ {
		ps := []*producer{newProducer(1), newProducer(2), newProducer(3)}
		var recs []rec
		for _, p := range ps {
			recs = append(recs, p.start())
		}
		for i := 0; i < 40; i++ {
			p := ps[rng.Intn(len(ps))]
			switch rng.Intn(10) {
			case 0:
				recs = append(recs, p.end(false), p.start())
			case 1:
				if len(recs) > 0 { // redeliver something
					recs = append(recs, recs[rng.Intn(len(recs))])
				}
			case 2:
				p.put("dropped") // a gap
			default:
				recs = append(recs, p.put(fmt.Sprint(i)))
			}
		}
		whole := run(New(0), recs)
		cut := rng.Intn(len(recs) + 1)
		v := New(0)
		first := run(v, recs[:cut])
		state, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		restored := New(0)
		if err := restored.UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		again, _ := restored.MarshalBinary()
		if !bytes.Equal(state, again) {
			t.Fatal("state does not round-trip")
		}
		resumed := append(first, run(restored, recs[cut:])...)
		if strings.Join(whole, "\n") != strings.Join(resumed, "\n") {
			t.Fatalf("iteration %d cut %d: resumed verdicts differ:\n%s\n---\n%s", iter, cut, strings.Join(whole, "\n"), strings.Join(resumed, "\n"))
		}
	}
}

func TestProducerLimitEvictsClosedFirst(t *testing.T) {
	v := New(2)
	var e wire.Envelope
	closed, open, third := newProducer(1), newProducer(2), newProducer(3)
	for _, r := range []rec{closed.start(), closed.end(true), open.start(), open.put("a"), third.start()} {
		v.ValidateRecord(r.key, r.value, &e)
	}
	if v.Producers() != 2 {
		t.Fatalf("tracking %d producers, want 2", v.Producers())
	}
	r := open.put("b")
	if res := v.ValidateRecord(r.key, r.value, &e); res.Verdict != OK {
		t.Fatalf("open producer was evicted: %v %s", res.Verdict, res.Reason)
	}
}

func TestUnmarshalRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {9}, {stateVersion, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if err := New(0).UnmarshalBinary(b); err == nil {
			t.Errorf("UnmarshalBinary(%x) accepted garbage", b)
		}
	}
}

func FuzzValidatorState(f *testing.F) {
	v := New(0)
	p := newProducer(1)
	run(v, []rec{p.start(), p.put("a")})
	st, _ := v.MarshalBinary()
	f.Add(st)
	f.Fuzz(func(t *testing.T, b []byte) {
		v := New(0)
		if err := v.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		// Accepted states re-serialize identically only when already sorted;
		// either way they must be accepted again.
		if err := New(0).UnmarshalBinary(out); err != nil {
			t.Fatalf("re-serialized state rejected: %v", err)
		}
	})
}

func BenchmarkValidatePut(b *testing.B) {
	p := newProducer(1)
	v := New(0)
	var e wire.Envelope
	s := p.start()
	v.ValidateRecord(s.key, s.value, &e)
	recs := make([]rec, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 { // frame the next batch outside the timer
			b.StopTimer()
			for j := range recs {
				recs[j] = p.put(fmt.Sprint(j))
			}
			b.StartTimer()
		}
		r := recs[i%len(recs)]
		if res := v.ValidateRecord(r.key, r.value, &e); res.Verdict != OK {
			b.Fatal(res.Reason)
		}
	}
}
