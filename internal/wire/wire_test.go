package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
)

var testGUID = GUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// sampleEnvelopes has one envelope of every message and control type, with
// optional parts both present and absent.
func sampleEnvelopes() map[string]*Envelope {
	prod := Producer{GUID: testGUID, Segment: 3, Sequence: 42, ProducerTimestamp: 1_700_000_000_123}
	logical := prod
	logical.HasLogicalTimestamp, logical.LogicalTimestamp = true, 99
	ctl := func(c Control) *Envelope { return &Envelope{Type: TypeControl, Producer: prod, Control: c} }
	return map[string]*Envelope{
		"put":                 {Type: TypePut, Producer: prod, Put: Put{SchemaID: 1, Value: []byte("hello")}},
		"put-logical-rmd":     {Type: TypePut, Producer: logical, Put: Put{SchemaID: 7, Value: []byte{0, 1, 2}, RMD: &RMD{Version: 1, Data: []byte{9, 9}}}},
		"put-chunked":         {Type: TypePut, Producer: prod, Put: Put{SchemaID: 2, Chunks: &ChunkManifest{ChunkKeys: [][]byte{{3, 1}, {3, 2}}, Size: 5 << 20}}},
		"put-empty-manifest":  {Type: TypePut, Producer: prod, Put: Put{SchemaID: 2, Chunks: &ChunkManifest{}}},
		"put-leader":          {Type: TypePut, Producer: prod, Put: Put{SchemaID: 1, Value: []byte("v")}, Leader: &Leader{UpstreamRegion: 2, UpstreamPartition: 5, UpstreamOffset: 1 << 40, LeaderTerm: 3}},
		"delete":              {Type: TypeDelete, Producer: prod},
		"delete-rmd":          {Type: TypeDelete, Producer: logical, Delete: Delete{SchemaID: 3, RMD: &RMD{Version: 1, Data: []byte("rmd")}}},
		"update":              {Type: TypeUpdate, Producer: logical, Update: Update{SchemaID: 1, UpdateSchemaID: 1, Update: []byte{2, 4, 6}}},
		"chunk":               {Type: TypeChunk, Producer: prod, Chunk: Chunk{Index: 4, Data: bytes.Repeat([]byte{7}, 300)}},
		"start-of-push":       ctl(Control{Type: ControlStartOfPush, StartOfPush: StartOfPush{Sorted: true, Chunked: true, Compression: CompressionZstd}}),
		"start-of-push-dict":  ctl(Control{Type: ControlStartOfPush, StartOfPush: StartOfPush{Compression: CompressionZstdDict, Dictionary: []byte("dictionary")}}),
		"end-of-push":         ctl(Control{Type: ControlEndOfPush}),
		"start-of-segment":    ctl(Control{Type: ControlStartOfSegment, StartOfSegment: StartOfSegment{ChecksumType: ChecksumCRC32C}}),
		"end-of-segment":      ctl(Control{Type: ControlEndOfSegment, EndOfSegment: EndOfSegment{ChecksumType: ChecksumCRC32C, ChecksumValue: []byte{1, 2, 3, 4}, Final: true}}),
		"start-of-inc-push":   ctl(Control{Type: ControlStartOfIncrementalPush, IncrementalPush: IncrementalPush{PushID: "inc-1"}}),
		"end-of-inc-push":     ctl(Control{Type: ControlEndOfIncrementalPush, IncrementalPush: IncrementalPush{PushID: "inc-1"}}),
		"topic-switch":        ctl(Control{Type: ControlTopicSwitch, TopicSwitch: TopicSwitch{Sources: []SourceRegion{{Region: 0, Name: "east", Brokers: []string{"127.0.0.1:9092", "127.0.0.1:9093"}}, {Region: 1, Name: "west"}}, Topic: "s_rt", RewindStart: 1_700_000_000_000}}),
		"topic-switch-empty":  ctl(Control{Type: ControlTopicSwitch, TopicSwitch: TopicSwitch{Topic: "s_rt"}}),
		"version-swap":        ctl(Control{Type: ControlVersionSwap, VersionSwap: VersionSwap{OldVersion: 1, NewVersion: 2}}),
		"negative-timestamps": {Type: TypePut, Producer: Producer{GUID: testGUID, Segment: -1, Sequence: -2, ProducerTimestamp: -3}, Put: Put{SchemaID: -10}},
	}
}

func TestRoundTripEveryMessageType(t *testing.T) {
	seen := map[MessageType]bool{}
	seenCtl := map[ControlType]bool{}
	for name, e := range sampleEnvelopes() {
		t.Run(name, func(t *testing.T) {
			b := AppendValue(nil, e)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if again := AppendValue(nil, got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding changed the bytes:\n got %x\nwant %x", again, b)
			}
			if got.Type != e.Type || got.Producer != e.Producer || got.Control.Type != e.Control.Type {
				t.Fatalf("decoded %+v, want %+v", got, e)
			}
			if (got.Leader == nil) != (e.Leader == nil) || (got.Leader != nil && *got.Leader != *e.Leader) {
				t.Fatalf("leader footer %+v, want %+v", got.Leader, e.Leader)
			}
		})
		seen[e.Type] = true
		if e.Type == TypeControl {
			seenCtl[e.Control.Type] = true
		}
	}
	if len(seen) != 5 || len(seenCtl) != len(controlNames) {
		t.Fatalf("samples cover %d message types and %d control types", len(seen), len(seenCtl))
	}
}

// TestMatchesAvroSchema proves the hand-written codec writes EnvelopeSchema:
// a generic Avro codec decodes our bytes and encodes them back identically.
func TestMatchesAvroSchema(t *testing.T) {
	schema, err := avro.Parse(EnvelopeSchema)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range sampleEnvelopes() {
		t.Run(name, func(t *testing.T) {
			b := AppendValue(nil, e)
			var generic any
			if err := avro.Unmarshal(schema, b[2:], &generic); err != nil {
				t.Fatalf("generic decode of our bytes: %v", err)
			}
			back, err := avro.Marshal(schema, generic)
			if err != nil {
				t.Fatalf("generic encode: %v", err)
			}
			// The generic codec may write array blocks with a negative count
			// and a byte size; both forms are Avro, so compare by reading its
			// bytes with our decoder and writing them in our canonical form.
			ours, err := Decode(append([]byte{Magic, ProtocolVersion}, back...))
			if err != nil {
				t.Fatalf("our decoder rejects the generic codec's bytes %x: %v", back, err)
			}
			if again := AppendValue(nil, ours); !bytes.Equal(again, b) {
				t.Fatalf("generic codec disagrees:\n ours    %x\n generic %x", b, again)
			}
		})
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good := AppendValue(nil, sampleEnvelopes()["put-leader"])
	cases := map[string][]byte{
		"empty":           nil,
		"one byte":        {Magic},
		"bad magic":       append([]byte{0x00}, good[1:]...),
		"future version":  append([]byte{Magic, 9}, good[2:]...),
		"truncated":       good[:len(good)-3],
		"trailing":        append(append([]byte{}, good...), 0),
		"unknown type":    {Magic, ProtocolVersion, 0x0e},
		"branch mismatch": func() []byte { b := AppendValue(nil, sampleEnvelopes()["delete"]); b[2] = 0; return b }(),
		"huge length":     append(append([]byte{}, good[:2+1+16+3]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	key := []byte("user-1")
	for _, tc := range []struct {
		b    []byte
		want RecordKey
	}{
		{AppendDataKey(nil, key), RecordKey{Kind: KeyData, Key: key}},
		{AppendUpdateKey(nil, key), RecordKey{Kind: KeyUpdate, Key: key}},
		{AppendControlKey(nil, testGUID, 7, 1<<30), RecordKey{Kind: KeyControl, GUID: testGUID, Segment: 7, Sequence: 1 << 30}},
		{AppendChunkKey(nil, testGUID, 7, 8, 2, key), RecordKey{Kind: KeyChunk, GUID: testGUID, Segment: 7, Sequence: 8, ChunkIndex: 2, Key: key}},
	} {
		got, err := ParseKey(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.want.Kind, err)
		}
		if got.Kind != tc.want.Kind || !bytes.Equal(got.Key, tc.want.Key) || got.GUID != tc.want.GUID ||
			got.Segment != tc.want.Segment || got.Sequence != tc.want.Sequence || got.ChunkIndex != tc.want.ChunkIndex {
			t.Fatalf("ParseKey = %+v, want %+v", got, tc.want)
		}
	}
	// A put and a delete of one key share the compaction key; an update does not.
	if !bytes.Equal(AppendDataKey(nil, key), AppendDataKey(nil, key)) || bytes.Equal(AppendDataKey(nil, key), AppendUpdateKey(nil, key)) {
		t.Fatal("data and update keys must differ")
	}
	for _, bad := range [][]byte{nil, {0x07}, {byte(KeyControl), 1, 2}, {byte(KeyChunk), 1}} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseKey(%x) err = %v", bad, err)
		}
	}
}

// Vectors from the Java client's Utils.murmur2 (as used by its default
// partitioner), as published in Kafka's own tests and cross-client suites.
func TestMurmur2MatchesKafka(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		if got := int32(Murmur2([]byte(tc.in))); got != tc.want {
			t.Errorf("murmur2(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestPartitionPositive(t *testing.T) {
	for i := 0; i < 10000; i++ {
		k := []byte{byte(i), byte(i >> 8), byte(i * 7)}
		if p := Partition(k, 8); p < 0 || p >= 8 {
			t.Fatalf("partition %d out of range", p)
		}
	}
	// Kafka: toPositive(murmur2("foobar")) % 8.
	if got, want := Partition([]byte("foobar"), 8), int32(-790332482&0x7fffffff)%8; got != want {
		t.Fatalf("Partition = %d, want %d", got, want)
	}
}

func TestChecksumCatchesMovedAndFlippedBytes(t *testing.T) {
	sum := func(recs ...[2]string) uint32 {
		var c SegmentChecksum
		for _, r := range recs {
			c.Add([]byte(r[0]), []byte(r[1]))
		}
		return c.Value()
	}
	base := sum([2]string{"ab", "cd"}, [2]string{"k", "v"})
	for name, other := range map[string]uint32{
		"moved byte":    sum([2]string{"a", "bcd"}, [2]string{"k", "v"}),
		"flipped byte":  sum([2]string{"ab", "ce"}, [2]string{"k", "v"}),
		"reordered":     sum([2]string{"k", "v"}, [2]string{"ab", "cd"}),
		"record missed": sum([2]string{"ab", "cd"}),
	} {
		if other == base {
			t.Errorf("%s: checksum unchanged", name)
		}
	}
}

func BenchmarkAppendValuePut(b *testing.B) {
	e := &Envelope{Type: TypePut, Producer: Producer{GUID: testGUID, Segment: 1, Sequence: 1000, ProducerTimestamp: 1_700_000_000_000}, Put: Put{SchemaID: 1, Value: make([]byte, 100)}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendValue(buf[:0], e)
	}
}

func BenchmarkDecodePut(b *testing.B) {
	e := &Envelope{Type: TypePut, Producer: Producer{GUID: testGUID, Segment: 1, Sequence: 1000, ProducerTimestamp: 1_700_000_000_000}, Put: Put{SchemaID: 1, Value: make([]byte, 100)}}
	buf := AppendValue(nil, e)
	var out Envelope
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := DecodeInto(&out, buf); err != nil {
			b.Fatal(err)
		}
	}
}
