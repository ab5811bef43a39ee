package writer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	// ErrClosed is returned by every write after Close began.
	ErrClosed = errors.New("writer: closed")
	// ErrNilKey is returned for a nil key.
	ErrNilKey = errors.New("writer: nil key")
	// ErrNilValue is returned by Put for a nil value (use Delete).
	ErrNilValue = errors.New("writer: nil value")
	// ErrTooLarge is returned when a record would exceed MaxRecordBytes:
	// a value with chunking off, or a key too large to frame.
	ErrTooLarge = errors.New("writer: record too large")
	// ErrInvalidOption is wrapped by New's error for bad options.
	ErrInvalidOption = errors.New("writer: invalid option")
	// ErrNoSchemas is returned by operations that serialize Go values
	// when the writer has no SchemaProvider.
	ErrNoSchemas = errors.New("writer: no schema provider")
	// ErrUnknownSchema is wrapped by a SchemaProvider for an id it does
	// not know.
	ErrUnknownSchema = errors.New("writer: unknown schema")
	// ErrNotAllowed is returned for an operation the topic's kind
	// forbids: an update into a version topic (ARCHITECTURE invariant 3),
	// a start- or end-of-push into a real-time topic, or a segment control
	// message (the writer frames segments itself).
	ErrNotAllowed = errors.New("writer: operation not allowed on this topic")
	// ErrPartition is returned for an explicit partition out of range.
	ErrPartition = errors.New("writer: partition out of range")
)

// SchemaError says that a key or value does not match its Avro schema, or
// that a schema id is unknown. It names the schema and, when known, the
// field.
type SchemaError struct {
	Topic    string
	What     string // "key", "value" or "update"
	SchemaID int32  // the value schema id; 0 for a key
	Schema   string // the schema's full name or type
	Field    string // the offending field, when the codec named one
	Err      error
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	if e.Schema == "" {
		// The schema itself could not be had (unknown id).
		if e.What == "key" {
			return fmt.Sprintf("writer: key schema of topic %s: %v", e.Topic, e.Err)
		}
		return fmt.Sprintf("writer: %s schema (value schema id %d) of topic %s: %v", e.What, e.SchemaID, e.Topic, e.Err)
	}
	fmt.Fprintf(&b, "writer: %s does not match schema", e.What)
	if e.Schema != "" {
		fmt.Fprintf(&b, " %s", e.Schema)
	}
	if e.What != "key" {
		fmt.Fprintf(&b, " (id %d)", e.SchemaID)
	}
	fmt.Fprintf(&b, " of topic %s", e.Topic)
	if e.Field != "" {
		fmt.Fprintf(&b, ", field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *SchemaError) Unwrap() error { return e.Err }

// ProduceError is the error a write's callback (or a synchronous write)
// gets when Kafka did not take the record.
type ProduceError struct {
	Topic     string
	Partition int32
	Err       error // a *kerr.Error, kgo.ErrClientClosed, a context error …
}

func (e *ProduceError) Error() string {
	return fmt.Sprintf("writer: produce to %s partition %d: %v", e.Topic, e.Partition, e.Err)
}

func (e *ProduceError) Unwrap() error { return e.Err }

// Retriable reports whether writing the same operation again may succeed:
// Kafka's retriable errors (kerr's Retriable bit), timeouts and a client
// that was closed while the record was buffered are; a record Kafka
// rejected (too large, invalid, not authorized) is not.
func (e *ProduceError) Retriable() bool {
	var ke *kerr.Error
	switch {
	case errors.As(e.Err, &ke):
		return ke.Retriable
	case errors.Is(e.Err, context.DeadlineExceeded), errors.Is(e.Err, kgo.ErrRecordTimeout), errors.Is(e.Err, kgo.ErrRecordRetries):
		return true
	}
	return kerr.IsRetriable(e.Err)
}

// IsRetriable reports whether err is a ProduceError that is retriable.
func IsRetriable(err error) bool {
	var pe *ProduceError
	return errors.As(err, &pe) && pe.Retriable()
}

// fieldOf extracts the field a hamba/avro error names: "age: avro: …" or
// "… missing required field age" / "field \"age\"".
func fieldOf(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": avro:"); i > 0 && !strings.ContainsAny(msg[:i], " :") {
		return msg[:i]
	}
	if i := strings.LastIndex(msg, "missing required field "); i >= 0 {
		return strings.Trim(msg[i+len("missing required field "):], `"`)
	}
	return ""
}
