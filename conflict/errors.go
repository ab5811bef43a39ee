package conflict

import (
	"errors"
	"fmt"
)

// Sentinel errors. Returned errors wrap one of them (test with errors.Is) and
// name the schema id, field or input that failed. A failed Resolve changes
// nothing: its Result is the zero value.
var (
	// ErrSchema: a schema cannot be used (not a record where field-level
	// metadata needs one, a field without default, a generated RMD name
	// that clashes with the value schema, schemas that cannot be resolved
	// into the superset).
	ErrSchema = errors.New("schema not usable")
	// ErrUnknownSchema: the registry does not know a schema id.
	ErrUnknownSchema = errors.New("unknown schema id")
	// ErrCorrupt: stored value, RMD or operation bytes are not valid for
	// their schema, or the RMD does not match the value (element counts).
	ErrCorrupt = errors.New("corrupt input")
	// ErrBadOp: the operation or state is not well formed (unknown kind,
	// an update that touches nothing, a state with RMD but neither value
	// nor tombstone).
	ErrBadOp = errors.New("bad operation")
	// ErrMode: the operation or stored metadata does not fit the resolver's
	// mode (an UPDATE, or field-level RMD, in a value-level store version).
	ErrMode = errors.New("metadata mode mismatch")
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("conflict: %w: %s", sentinel, fmt.Sprintf(format, args...))
}

func wrapf(sentinel, err error, format string, args ...any) error {
	return fmt.Errorf("conflict: %w: %s: %w", sentinel, fmt.Sprintf(format, args...), err)
}
