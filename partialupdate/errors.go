package partialupdate

import (
	"errors"
	"fmt"
)

// Sentinel errors; the returned errors wrap them (test with errors.Is) and,
// where a field is involved, are *FieldError values naming it.
var (
	// ErrSchema: the value schema cannot have updates (not a record, a
	// field without default, a union with two collections, a name clash).
	ErrSchema = errors.New("schema cannot have partial updates")
	// ErrUnknownField: the update names a field the schema does not have.
	ErrUnknownField = errors.New("unknown field")
	// ErrSetAndMerge: one update both sets a field and merges into it (or
	// sets it twice).
	ErrSetAndMerge = errors.New("field is both set and merged")
	// ErrEmptyUpdate: the update leaves every field alone.
	ErrEmptyUpdate = errors.New("update changes no field")
	// ErrWrongType: a value does not fit the field's type.
	ErrWrongType = errors.New("value has the wrong type")
	// ErrNotNullable: set-to-null on a field whose type has no null.
	ErrNotNullable = errors.New("field is not nullable")
	// ErrNotCollection: a list operation on a field that is not a list, or
	// a map operation on a field that is not a map.
	ErrNotCollection = errors.New("operation does not fit the field's type")
	// ErrCorrupt: update or stored value bytes cannot be decoded.
	ErrCorrupt = errors.New("malformed bytes")
	// ErrNotCoalescible: two updates cannot be expressed as one (see
	// Coalesce); apply them one after the other instead.
	ErrNotCoalescible = errors.New("updates cannot be coalesced")
	// ErrMismatch: an update, stored value and target schema do not belong
	// together (different value schemas, incompatible field types).
	ErrMismatch = errors.New("schemas do not match")
	// ErrNoJSON: the update has no faithful JSON form (it puts a map key
	// that is not UTF-8: two such keys would become one JSON member).
	ErrNoJSON = errors.New("update has no JSON form")
)

// FieldError is an error about one field of the value schema.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("partialupdate: field %q: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, sentinel error, format string, args ...any) error {
	if format == "" {
		return &FieldError{Field: field, Err: sentinel}
	}
	return &FieldError{Field: field, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// wrapField wraps a lower-level error (avrox) with the field name and a
// sentinel of this package.
func wrapField(field string, sentinel, err error) error {
	return &FieldError{Field: field, Err: fmt.Errorf("%w: %w", sentinel, err)}
}
