package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// Class says what a failed write calls for.
type Class uint8

const (
	// Data: the record itself cannot be written (it does not match the
	// store's schema, has no key, is too large …). Writing it again fails
	// again; it goes to the dead-letter topic or stops the sink.
	Data Class = iota
	// Retriable: writing the same operation again may succeed (Kafka's
	// retriable errors, timeouts).
	Retriable
	// Fatal: the sink cannot go on (writer closed, authorization, a
	// cancelled context); no dead letter, the sink stops.
	Fatal
)

func (c Class) String() string {
	switch c {
	case Data:
		return "data"
	case Retriable:
		return "retriable"
	case Fatal:
		return "fatal"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Classify sorts a write's error. Errors of the sink's converters are
// *DataError and always Data.
func Classify(err error) Class {
	var (
		de *DataError
		se *writer.SchemaError
		fe *partialupdate.FieldError
		pe *writer.ProduceError
	)
	switch {
	case err == nil:
		return Data
	case errors.As(err, &de), errors.As(err, &se), errors.As(err, &fe),
		errors.Is(err, writer.ErrNilKey), errors.Is(err, writer.ErrNilValue), errors.Is(err, writer.ErrTooLarge),
		errors.Is(err, partialupdate.ErrWrongType), errors.Is(err, partialupdate.ErrEmptyUpdate):
		return Data
	case errors.Is(err, context.Canceled), errors.Is(err, writer.ErrClosed):
		return Fatal
	case errors.As(err, &pe):
		if pe.Retriable() {
			return Retriable
		}
		for _, bad := range []error{kerr.MessageTooLarge, kerr.InvalidRecord, kerr.CorruptMessage, kerr.RecordListTooLarge, kerr.InvalidRecord} {
			if errors.Is(pe.Err, bad) {
				return Data
			}
		}
		return Fatal
	case writer.IsRetriable(err), errors.Is(err, context.DeadlineExceeded):
		return Retriable
	}
	return Fatal
}

// DataError is a record the sink could not turn into a write: bad bytes
// for its converter, a field of the wrong type, a field the store does not
// have. Stage is Connect's name of the step (KEY_CONVERTER,
// VALUE_CONVERTER, TASK_PUT).
type DataError struct {
	Stage string
	Err   error
}

func (e *DataError) Error() string { return e.Err.Error() }
func (e *DataError) Unwrap() error { return e.Err }

// RecordError names the input record an error is about: what a sink that
// stops reports.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ErrEarlierFailed is given to goka's commit of every record of a partition
// after one that failed: their offsets must not be committed past it.
var ErrEarlierFailed = errors.New("sink: an earlier record of this partition failed")
