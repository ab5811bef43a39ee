package sink

import (
	"context"
	"slices"
	"sync"

	"github.com/rialtodb/rialto/writer"
)

// Recorder is an in-memory Writer for unit tests of goka processors under
// goka's tester (github.com/lovoo/goka/tester): it records every operation
// and acknowledges it at once (the callback runs inside WriteAsync),
// unless Fail says otherwise. It does not check values against schemas.
// Safe for concurrent use.
type Recorder struct {
	mu  sync.Mutex
	ops []Op
	// Fail, when set, is asked about every operation; a non-nil error is
	// given to the operation's callback instead of success, and the
	// operation is not recorded. Return a *writer.ProduceError to simulate
	// Kafka's errors, a *writer.SchemaError or *DataError for bad input.
	Fail func(Op) error
}

var _ Writer = (*Recorder)(nil)

// Ops returns a copy of the operations recorded so far, in order.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Reset forgets the recorded operations.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = nil
}

// WriteAsync implements Writer.
func (r *Recorder) WriteAsync(_ context.Context, op Op, cb func(error)) error {
	if op.Key == nil {
		return writer.ErrNilKey
	}
	switch op.Kind {
	case OpPut:
		if op.Value == nil {
			return writer.ErrNilValue
		}
	case OpPutBytes:
		if op.Bytes == nil {
			return writer.ErrNilValue
		}
		op.Bytes = slices.Clone(op.Bytes)
	case OpUpdate:
		if op.Update == nil {
			return &writer.SchemaError{What: "update", Err: writer.ErrNilValue}
		}
	}
	r.mu.Lock()
	fail := r.Fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(op); err != nil {
			cb(err)
			return nil
		}
	}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	cb(nil)
	return nil
}
