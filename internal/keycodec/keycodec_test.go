package keycodec

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/writer"
)

const recordKey = `{"type":"record","name":"K","fields":[{"name":"id","type":"long"},{"name":"region","type":"string"}]}`

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		schema string // "" = no schema
		text   string // FromText input
		json   string // FromJSON input and AppendJSON output
		want   []byte
	}{
		{"", "user-1", `"user-1"`, []byte("user-1")},
		{`"string"`, "user-1", `"user-1"`, []byte("user-1")},
		{`"string"`, `{"a":1}`, `"{\"a\":1}"`, []byte(`{"a":1}`)},
		{`"string"`, "é", `"é"`, []byte("é")},
		{`"bytes"`, `"\u00ff\u0001"`, `"\u00ff\u0001"`, []byte{0xff, 0x01}},
		{`"long"`, "42", "42", []byte{84}},
		{`"int"`, "-1", "-1", []byte{1}},
		{recordKey, `{"id":1,"region":"eu"}`, `{"id":1,"region":"eu"}`, []byte{2, 4, 'e', 'u'}},
	} {
		var s avro.Schema
		if tc.schema != "" {
			s = avro.MustParse(tc.schema)
		}
		got, err := FromText(s, tc.text)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s FromText(%q) = %x, %v; want %x", tc.schema, tc.text, got, err, tc.want)
		}
		got, err = FromJSON(s, []byte(tc.json))
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s FromJSON(%s) = %x, %v; want %x", tc.schema, tc.json, got, err, tc.want)
		}
		js, err := AppendJSON(nil, s, tc.want)
		if err != nil {
			t.Errorf("%s AppendJSON(%x): %v", tc.schema, tc.want, err)
		} else if back, err := FromJSON(s, js); err != nil || !bytes.Equal(back, tc.want) {
			t.Errorf("%s AppendJSON(%x) = %s does not read back: %x, %v", tc.schema, tc.want, js, back, err)
		}
	}
}

func TestBadKeys(t *testing.T) {
	rec := avro.MustParse(recordKey)
	for _, tc := range []struct {
		schema avro.Schema
		json   string
	}{
		{rec, `{"id":"x","region":"eu"}`},
		{rec, `{"id":1}`},
		{rec, `{"id":1,"region":"eu","extra":2}`},
		{rec, `not json`},
		{avro.MustParse(`"string"`), `42`},
		{nil, `{"a":1}`},
		{avro.MustParse(`"long"`), `1.5`},
	} {
		if _, err := FromJSON(tc.schema, []byte(tc.json)); !errors.Is(err, ErrBadKey) {
			t.Errorf("FromJSON(%s) error %v, want ErrBadKey", tc.json, err)
		}
	}
	if _, err := Serialize(avro.MustParse(`"string"`), 42); !errors.Is(err, ErrBadKey) {
		t.Errorf("Serialize(int for string schema) error %v, want ErrBadKey", err)
	}
	if _, err := Serialize(nil, nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("Serialize(nil) error %v, want ErrBadKey", err)
	}
	if _, err := AppendJSON(nil, rec, []byte{2}); !errors.Is(err, ErrBadKey) {
		t.Errorf("AppendJSON(truncated record) error %v, want ErrBadKey", err)
	}
}

// TestSameBytesAsWriter pins the rule to the writer's: a reader must find
// what the writer wrote.
func TestSameBytesAsWriter(t *testing.T) {
	for _, tc := range []struct {
		schema string
		key    any
	}{
		{`"string"`, "user-7"},
		{`"bytes"`, []byte{0, 1, 2}},
		{`"long"`, int64(123456)},
		{recordKey, map[string]any{"id": int64(9), "region": "us"}},
	} {
		ss, err := writer.NewStaticSchemas(tc.schema, `"string"`)
		if err != nil {
			t.Fatal(err)
		}
		w, err := writer.New(writer.Brokers("127.0.0.1:1"), writer.Topic("keycodec_rt"), writer.Schemas(ss), writer.Partitions(4))
		if err != nil {
			t.Fatal(err)
		}
		want, err := w.SerializeKey(tc.key)
		w.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got, err := Serialize(ss.Key, tc.key)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Serialize(%v) = %x, %v; writer wrote %x", tc.schema, tc.key, got, err, want)
		}
	}
}

// FuzzJSONRoundTrip: whatever key bytes render to JSON read back to bytes
// that render to the same JSON (non-canonical varints and invalid UTF-8 in
// record keys normalise once, then are a fixed point; a bytes key
// round-trips exactly).
func FuzzJSONRoundTrip(f *testing.F) {
	f.Add([]byte{2, 4, 'e', 'u'})
	f.Add([]byte{})
	f.Add([]byte{0xfa, 0x00, 0x00})
	rec := avro.MustParse(recordKey)
	raw := avro.MustParse(`"bytes"`)
	f.Fuzz(func(t *testing.T, key []byte) {
		js, err := AppendJSON(nil, raw, key)
		if err != nil {
			t.Fatalf("bytes key %x: %v", key, err)
		}
		if back, err := FromJSON(raw, js); err != nil || !bytes.Equal(back, key) {
			t.Fatalf("bytes: %x → %s → %x, %v", key, js, back, err)
		}
		js, err = AppendJSON(nil, rec, key)
		if err != nil {
			return
		}
		back, err := FromJSON(rec, js)
		if err != nil {
			t.Fatalf("record: %x → %s does not parse: %v", key, js, err)
		}
		js2, err := AppendJSON(nil, rec, back)
		if err != nil {
			t.Fatalf("record: %x → %s → %x does not render: %v", key, js, back, err)
		}
		if back2, err := FromJSON(rec, js2); err != nil || !bytes.Equal(back, back2) {
			t.Fatalf("record: %x → %s → %x → %s → %x, %v", key, js, back, js2, back2, err)
		}
	})
}
