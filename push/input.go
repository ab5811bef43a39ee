package push

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/keycodec"
)

// Format is the layout of a push's input.
type Format int

const (
	// FormatAuto picks FormatAvro for input starting with the Avro object
	// container magic ("Obj" 0x01), FormatJSONL otherwise.
	FormatAuto Format = iota
	// FormatJSONL is one JSON object per line: {"key": K, "value": {…}}
	// with an optional "timestamp": MS (a logical timestamp, ms since the
	// epoch). Keys and values are in the plain JSON form of package avrox
	// (a JSON string for a string key, an object for a record). Blank
	// lines are skipped; any other member is an error.
	FormatJSONL
	// FormatAvro is an Avro object container file whose records have the
	// fields "key" and "value" and optionally "timestamp" (long, or a union
	// of null and long). The file's key and value schemas are resolved to
	// the store's (Avro schema resolution), so a file written with an older
	// compatible schema pushes as the store's schema.
	FormatAvro
)

func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatJSONL:
		return "jsonl"
	case FormatAvro:
		return "avro"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// ParseFormat parses "auto", "jsonl" or "avro".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "jsonl", "json":
		return FormatJSONL, nil
	case "avro", "ocf":
		return FormatAvro, nil
	}
	return 0, fmt.Errorf("unknown input format %q (want auto, jsonl or avro)", s)
}

// MaxLineBytes bounds one JSONL line (64 MiB): above the 50 MiB values the
// writer carries in chunks, and a bound on what one bad line can allocate.
const MaxLineBytes = 64 << 20

// Input is what a push reads.
type Input struct {
	// Reader yields the records. Required.
	Reader io.Reader
	// Name names the input in errors ("members.jsonl"); default "input".
	Name string
	// Size is the input's size in bytes when known (for progress), else 0.
	Size int64
	// Format of the input; FormatAuto sniffs it.
	Format Format
}

// File is an Input read from a file; Close it when the push is done.
type File struct {
	Input
	f *os.File
}

// OpenFile opens path as an Input ("-" is standard input, size unknown).
// A name ending in ".avro" is read as FormatAvro, ".jsonl"/".json" as
// FormatJSONL, anything else is sniffed.
func OpenFile(path string) (*File, error) {
	if path == "-" {
		return &File{Input: Input{Reader: os.Stdin, Name: "stdin"}}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	in := Input{Reader: f, Name: filepath.Base(path)}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		in.Size = fi.Size()
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".avro":
		in.Format = FormatAvro
	case ".jsonl", ".json", ".ndjson":
		in.Format = FormatJSONL
	}
	return &File{Input: in, f: f}, nil
}

// Close closes the file (not standard input).
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	return f.f.Close()
}

// RecordError is a bad input record: its position and what is wrong with
// it. A push that meets one writes no end-of-push.
type RecordError struct {
	Input string
	// Line is the 1-based line of a JSONL record; 0 for Avro input.
	Line int64
	// Index is the 0-based record index in an Avro file; -1 for JSONL.
	Index int64
	Err   error
}

func (e *RecordError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %v", e.Input, e.Line, e.Err)
	}
	return fmt.Sprintf("%s record %d: %v", e.Input, e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ErrBadRecord is wrapped by every RecordError's Err.
var ErrBadRecord = errors.New("bad record")

// Record is one parsed input record.
type Record struct {
	Key   []byte // serialized with the store's key schema
	Value []byte // Avro binary in the push's value schema
	// Timestamp is the record's logical timestamp (ms) when HasTimestamp.
	Timestamp    int64
	HasTimestamp bool
}

var longSchema = avro.NewPrimitiveSchema(avro.Long, nil)

// ParseLine parses one JSONL line (without its newline) into a record of
// the given key and value schemas. It is strict: the line must be one JSON
// object with the members "key" and "value" and optionally "timestamp" (a
// non-negative integer, ms since the epoch), nothing else; the value must
// match the value schema (an error names the field). Every error wraps
// ErrBadRecord.
func ParseLine(keySchema, valueSchema avro.Schema, line []byte) (Record, error) {
	doc, err := avrox.ParseJSON(line)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	names, vals, ok := doc.Members()
	if !ok {
		return Record{}, fmt.Errorf("%w: not a JSON object", ErrBadRecord)
	}
	var rec Record
	var haveKey, haveValue bool
	for i, name := range names {
		v := vals[i]
		switch name {
		case "key":
			if v.IsNull() {
				return Record{}, fmt.Errorf("%w: key: null", ErrBadRecord)
			}
			k, err := keyFromJSON(keySchema, v)
			if err != nil {
				return Record{}, fmt.Errorf("%w: key: %w", ErrBadRecord, err)
			}
			rec.Key, haveKey = k, true
		case "value":
			if v.IsNull() {
				return Record{}, fmt.Errorf("%w: value: null (a push writes whole values; deletes go through the writer)", ErrBadRecord)
			}
			b, err := v.Append(nil, valueSchema)
			if err != nil {
				return Record{}, fmt.Errorf("%w: value: %w", ErrBadRecord, err)
			}
			rec.Value, haveValue = b, true
		case "timestamp":
			b, err := v.Append(nil, longSchema)
			if err != nil {
				return Record{}, fmt.Errorf("%w: timestamp: want an integer (ms since the epoch): %w", ErrBadRecord, err)
			}
			ts, _, err := avrox.ReadLong(b)
			if err != nil || ts < 0 {
				return Record{}, fmt.Errorf("%w: timestamp: want a non-negative integer (ms since the epoch)", ErrBadRecord)
			}
			rec.Timestamp, rec.HasTimestamp = ts, true
		default:
			return Record{}, fmt.Errorf("%w: unknown member %q (want key, value and optionally timestamp)", ErrBadRecord, name)
		}
	}
	if !haveKey {
		return Record{}, fmt.Errorf("%w: no \"key\"", ErrBadRecord)
	}
	if !haveValue {
		return Record{}, fmt.Errorf("%w: no \"value\"", ErrBadRecord)
	}
	return rec, nil
}

// keyFromJSON serializes a key given in the plain JSON form (the rule of
// package keycodec: raw bytes for string and bytes key schemas).
func keyFromJSON(s avro.Schema, v avrox.ParsedJSON) ([]byte, error) {
	if s == nil || keycodec.Raw(s) {
		if s == nil {
			s = avro.NewPrimitiveSchema(avro.String, nil)
		}
		b, err := v.Append(nil, s)
		if err != nil {
			return nil, err
		}
		n, m, err := avrox.ReadLong(b)
		if err != nil || int64(len(b)-m) != n {
			return nil, errors.New("malformed encoding")
		}
		return b[m:], nil
	}
	return v.Append(nil, s)
}

// Reader reads and validates an input's records without writing them: a
// dry run of a push's input side.
type Reader struct{ src source }

// NewReader opens in for records of the given key schema (nil: raw string
// keys) and value schema.
func NewReader(in Input, keySchema, valueSchema avro.Schema) (*Reader, error) {
	src, err := newSource(in, keySchema, valueSchema)
	if err != nil {
		return nil, err
	}
	return &Reader{src: src}, nil
}

// Next returns the next record, io.EOF after the last, or a *RecordError
// for a bad one (reading may not continue after an error).
func (r *Reader) Next() (Record, error) { return r.src.next() }

// Consumed is how many input bytes have been read so far.
func (r *Reader) Consumed() int64 { return r.src.consumed() }

// source yields parsed records with their position.
type source interface {
	// next returns the next record, io.EOF at the end, or a *RecordError.
	next() (Record, error)
	// consumed is how many input bytes have been read.
	consumed() int64
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var avroMagic = []byte{'O', 'b', 'j', 1}

// newSource opens the input in its format.
func newSource(in Input, keySchema, valueSchema avro.Schema) (source, error) {
	if in.Reader == nil {
		return nil, errors.New("push: Input.Reader is nil")
	}
	name := in.Name
	if name == "" {
		name = "input"
	}
	cr := &countingReader{r: in.Reader}
	br := bufio.NewReaderSize(cr, 256<<10)
	format := in.Format
	if format == FormatAuto {
		head, _ := br.Peek(len(avroMagic))
		format = FormatJSONL
		if bytes.Equal(head, avroMagic) {
			format = FormatAvro
		}
	}
	switch format {
	case FormatJSONL:
		return &jsonlSource{name: name, br: br, cr: cr, key: keySchema, value: valueSchema}, nil
	case FormatAvro:
		return newAvroSource(name, br, cr, keySchema, valueSchema)
	}
	return nil, fmt.Errorf("push: unknown input format %s", format)
}

// jsonlSource reads FormatJSONL.
type jsonlSource struct {
	name       string
	br         *bufio.Reader
	cr         *countingReader
	key, value avro.Schema
	line       int64
	buf        []byte
}

func (s *jsonlSource) consumed() int64 { return s.cr.n - int64(s.br.Buffered()) }

func (s *jsonlSource) next() (Record, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return Record{}, err
		}
		s.line++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := ParseLine(s.key, s.value, line)
		if err != nil {
			return Record{}, &RecordError{Input: s.name, Line: s.line, Index: -1, Err: err}
		}
		return rec, nil
	}
}

// readLine returns the next line without its newline (and a trailing \r);
// io.EOF when the input is exhausted.
func (s *jsonlSource) readLine() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		frag, err := s.br.ReadSlice('\n')
		s.buf = append(s.buf, frag...)
		if len(s.buf) > MaxLineBytes {
			return nil, &RecordError{Input: s.name, Line: s.line + 1, Index: -1,
				Err: fmt.Errorf("%w: line longer than %d bytes", ErrBadRecord, MaxLineBytes)}
		}
		switch {
		case err == nil:
			return bytes.TrimSuffix(s.buf[:len(s.buf)-1], []byte{'\r'}), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(s.buf) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimSuffix(s.buf, []byte{'\r'}), nil
		default:
			return nil, fmt.Errorf("push: reading %s: %w", s.name, err)
		}
	}
}

// avroSource reads FormatAvro.
type avroSource struct {
	name    string
	dec     *ocf.Decoder
	br      *bufio.Reader
	cr      *countingReader
	keyW    avro.Schema // the file's key field schema
	valueW  avro.Schema
	keyR    *avrox.Resolver
	valueR  *avrox.Resolver
	rawKey  bool
	tsField bool
	index   int64
}

func newAvroSource(name string, br *bufio.Reader, cr *countingReader, keySchema, valueSchema avro.Schema) (*avroSource, error) {
	dec, err := ocf.NewDecoder(br)
	if err != nil {
		return nil, fmt.Errorf("push: %s: not an Avro object container file: %w", name, err)
	}
	rs, ok := dec.Schema().(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("push: %s: the file's schema is a %s; want a record with fields key, value and optionally timestamp", name, dec.Schema().Type())
	}
	s := &avroSource{name: name, dec: dec, br: br, cr: cr}
	for _, f := range rs.Fields() {
		switch f.Name() {
		case "key":
			s.keyW = f.Type()
		case "value":
			s.valueW = f.Type()
		case "timestamp":
			s.tsField = true
			if !isTimestampSchema(f.Type()) {
				return nil, fmt.Errorf("push: %s: field timestamp is %s; want long or [null, long]", name, f.Type().Type())
			}
		default:
			return nil, fmt.Errorf("push: %s: unexpected field %q in the file's records (want key, value and optionally timestamp)", name, f.Name())
		}
	}
	if s.keyW == nil || s.valueW == nil {
		return nil, fmt.Errorf("push: %s: the file's records need fields key and value", name)
	}
	ks := keySchema
	if ks == nil {
		ks = avro.NewPrimitiveSchema(avro.String, nil)
	}
	s.rawKey = keycodec.Raw(keySchema)
	if s.keyR, err = avrox.NewResolver(s.keyW, ks); err != nil {
		return nil, fmt.Errorf("push: %s: the file's key schema does not resolve to the store's: %w", name, err)
	}
	if s.valueR, err = avrox.NewResolver(s.valueW, valueSchema); err != nil {
		return nil, fmt.Errorf("push: %s: the file's value schema does not resolve to the store's: %w", name, err)
	}
	return s, nil
}

func isTimestampSchema(s avro.Schema) bool {
	if s.Type() == avro.Long {
		return true
	}
	u, ok := s.(*avro.UnionSchema)
	if !ok || len(u.Types()) != 2 {
		return false
	}
	a, b := u.Types()[0].Type(), u.Types()[1].Type()
	return (a == avro.Null && b == avro.Long) || (a == avro.Long && b == avro.Null)
}

func (s *avroSource) consumed() int64 { return s.cr.n - int64(s.br.Buffered()) }

func (s *avroSource) next() (Record, error) {
	if !s.dec.HasNext() {
		if err := s.dec.Error(); err != nil {
			return Record{}, &RecordError{Input: s.name, Index: s.index, Err: fmt.Errorf("%w: %w", ErrBadRecord, err)}
		}
		return Record{}, io.EOF
	}
	idx := s.index
	s.index++
	bad := func(err error) (Record, error) {
		return Record{}, &RecordError{Input: s.name, Index: idx, Err: fmt.Errorf("%w: %w", ErrBadRecord, err)}
	}
	var m map[string]any
	if err := s.dec.Decode(&m); err != nil {
		return bad(err)
	}
	// Re-encode key and value in the file's schemas (exactly what the file
	// held), then resolve them to the store's schemas on bytes.
	kw, err := avro.Marshal(s.keyW, m["key"])
	if err != nil {
		return bad(fmt.Errorf("key: %w", err))
	}
	key, _, err := s.keyR.Append(nil, kw)
	if err != nil {
		return bad(fmt.Errorf("key: %w", err))
	}
	if s.rawKey {
		n, l, err := avrox.ReadLong(key)
		if err != nil || int64(len(key)-l) != n {
			return bad(errors.New("key: malformed encoding"))
		}
		key = key[l:]
	}
	vw, err := avro.Marshal(s.valueW, m["value"])
	if err != nil {
		return bad(fmt.Errorf("value: %w", err))
	}
	value, _, err := s.valueR.Append(nil, vw)
	if err != nil {
		return bad(fmt.Errorf("value: %w", err))
	}
	rec := Record{Key: key, Value: value}
	if s.tsField {
		switch ts := m["timestamp"].(type) {
		case nil:
		case int64:
			if ts < 0 {
				return bad(fmt.Errorf("timestamp: %d is negative", ts))
			}
			rec.Timestamp, rec.HasTimestamp = ts, true
		default:
			return bad(fmt.Errorf("timestamp: unexpected %T", ts))
		}
	}
	return rec, nil
}
