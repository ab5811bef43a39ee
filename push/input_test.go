package push_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/push"
)

const lineValueSchema = `{"type":"record","name":"V","fields":[
	{"name":"name","type":"string"},
	{"name":"age","type":"int","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"nick","type":["null","string"],"default":null}
]}`

func lineSchemas(t testing.TB) (avro.Schema, avro.Schema, avro.Schema) {
	t.Helper()
	str := avro.MustParse(`"string"`)
	rec := avro.MustParse(`{"type":"record","name":"K","fields":[{"name":"id","type":"long"},{"name":"region","type":"string"}]}`)
	return str, rec, avro.MustParse(lineValueSchema)
}

func TestParseLine(t *testing.T) {
	str, recKey, value := lineSchemas(t)
	enc := func(js string) []byte {
		b, err := avrox.FromJSON(value, []byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	recKeyBytes, err := avrox.FromJSON(recKey, []byte(`{"id":7,"region":"eu"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     avro.Schema
		line    string
		wantKey []byte
		want    []byte
		ts      int64
		hasTS   bool
		err     string // substring of the error; "" for success
	}{
		{name: "plain", key: str, line: `{"key":"u1","value":{"name":"ada"}}`, wantKey: []byte("u1"), want: enc(`{"name":"ada"}`)},
		{name: "timestamp", key: str, line: `{"timestamp":1700000000000,"key":"u1","value":{"name":"ada","age":3}}`,
			wantKey: []byte("u1"), want: enc(`{"name":"ada","age":3}`), ts: 1700000000000, hasTS: true},
		{name: "union and array", key: str, line: `{"key":"u","value":{"name":"a","tags":["x","y"],"nick":"z"}}`, wantKey: []byte("u"), want: enc(`{"name":"a","tags":["x","y"],"nick":"z"}`)},
		{name: "record key", key: recKey, line: `{"key":{"id":7,"region":"eu"},"value":{"name":"a"}}`, wantKey: recKeyBytes, want: enc(`{"name":"a"}`)},
		{name: "unicode string key", key: str, line: `{"key":"zoë","value":{"name":"a"}}`, wantKey: []byte("zoë"), want: enc(`{"name":"a"}`)},
		{name: "missing key", key: str, line: `{"value":{"name":"a"}}`, err: `no "key"`},
		{name: "missing value", key: str, line: `{"key":"a"}`, err: `no "value"`},
		{name: "null value", key: str, line: `{"key":"a","value":null}`, err: "value: null"},
		{name: "null key", key: str, line: `{"key":null,"value":{"name":"a"}}`, err: "key: null"},
		{name: "unknown member", key: str, line: `{"key":"a","value":{"name":"a"},"op":"put"}`, err: `unknown member "op"`},
		{name: "unknown field", key: str, line: `{"key":"a","value":{"name":"a","color":"red"}}`, err: "color"},
		{name: "wrong type names the field", key: str, line: `{"key":"a","value":{"name":"a","age":"old"}}`, err: "age"},
		{name: "missing field without default", key: str, line: `{"key":"a","value":{"age":1}}`, err: "name"},
		{name: "int out of range", key: str, line: `{"key":"a","value":{"name":"a","age":4294967296}}`, err: "age"},
		{name: "negative timestamp", key: str, line: `{"key":"a","value":{"name":"a"},"timestamp":-1}`, err: "timestamp"},
		{name: "fractional timestamp", key: str, line: `{"key":"a","value":{"name":"a"},"timestamp":1.5}`, err: "timestamp"},
		{name: "string timestamp", key: str, line: `{"key":"a","value":{"name":"a"},"timestamp":"1"}`, err: "timestamp"},
		{name: "duplicate member", key: str, line: `{"key":"a","key":"b","value":{"name":"a"}}`, err: "uplicate"},
		{name: "not an object", key: str, line: `["a",{"name":"a"}]`, err: "not a JSON object"},
		{name: "trailing data", key: str, line: `{"key":"a","value":{"name":"a"}} {}`, err: "trailing"},
		{name: "truncated", key: str, line: `{"key":"a","value":{"name":`, err: "JSON"},
		{name: "key of the wrong type", key: recKey, line: `{"key":"a","value":{"name":"a"}}`, err: "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := push.ParseLine(tc.key, value, []byte(tc.line))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, push.ErrBadRecord) {
					t.Fatalf("error %v, want ErrBadRecord saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Key, tc.wantKey) || !bytes.Equal(rec.Value, tc.want) || rec.Timestamp != tc.ts || rec.HasTimestamp != tc.hasTS {
				t.Fatalf("got %+v", rec)
			}
		})
	}
}

// TestJSONLLines: line numbers count blank lines; CRLF and a last line
// without newline parse.
func TestJSONLLines(t *testing.T) {
	_, _, value := lineSchemas(t)
	in := "{\"key\":\"a\",\"value\":{\"name\":\"a\"}}\r\n\n   \n{\"key\":\"b\",\"value\":{\"name\":\"b\"}}\n{\"key\":\"c\",\"value\":{}}"
	recs, err := readAll(strings.NewReader(in), value)
	var re *push.RecordError
	if !errors.As(err, &re) || re.Line != 5 || !strings.Contains(err.Error(), "x.jsonl line 5") || !strings.Contains(err.Error(), "name") {
		t.Fatalf("error %v, want one at line 5 naming the field", err)
	}
	if len(recs) != 2 || string(recs[0].Key) != "a" || string(recs[1].Key) != "b" {
		t.Fatalf("records %+v", recs)
	}
}

func readAll(r io.Reader, value avro.Schema) ([]push.Record, error) {
	rd, err := push.NewReader(push.Input{Reader: r, Name: "x.jsonl"}, nil, value)
	if err != nil {
		return nil, err
	}
	var out []push.Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"key":"u1","value":{"name":"ada"}}`,
		`{"key":"u1","value":{"name":"ada","age":3,"tags":["x"],"nick":"n"},"timestamp":17}`,
		`{"key":"u1","value":{"name":"ada","nick":null}}`,
		`{"key":"","value":{"name":""},"timestamp":0}`,
		`{"key":"a","value":{"name":"a","age":"old"}}`,
		`{"key":"a"}`,
		`[]`,
		`{"key":"a","value":{"name":"\u00e9\ud83d\ude00"}}`,
	} {
		f.Add([]byte(s))
	}
	str, _, value := lineSchemas(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := push.ParseLine(str, value, line)
		if err != nil {
			if !errors.Is(err, push.ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		if err := avrox.Validate(value, rec.Value); err != nil {
			t.Fatalf("accepted %q as a value that does not validate: %v", line, err)
		}
		if rec.Key == nil || rec.Timestamp < 0 {
			t.Fatalf("accepted %q as %+v", line, rec)
		}
	})
}
