package avrox

import (
	"errors"
	"fmt"
)

// Errors returned for bad input. They are wrapped with the path of the value
// that failed (`field "tags": item 3: truncated input`); test with errors.Is.
var (
	// ErrTruncated: the input ends inside a value.
	ErrTruncated = errors.New("truncated input")
	// ErrCorrupt: the input is not a valid encoding for the schema (bad
	// varint, negative length, union or enum index out of range, bad boolean,
	// block byte size that does not match its items, trailing bytes).
	ErrCorrupt = errors.New("malformed input")
	// ErrLimit: the input exceeds MaxDepth or MaxItems.
	ErrLimit = errors.New("input exceeds limits")
	// ErrSchema: the schema is not supported for the operation, or two
	// schemas cannot be resolved or merged.
	ErrSchema = errors.New("schema mismatch")
	// ErrValue: a Go or JSON value does not fit the schema.
	ErrValue = errors.New("value does not fit schema")
)

// Limits applied to every decode so that garbage input fails fast instead of
// looping or exhausting the stack.
const (
	// MaxDepth is the deepest nesting of records, arrays, maps and unions
	// accepted in one value.
	MaxDepth = 128
	// MaxItems is the most items accepted in one array or map.
	MaxItems = 1 << 22
)

// pathError prefixes err with one step of a path ("field \"a\"", "item 3").
type pathError struct {
	step string
	err  error
}

func (e *pathError) Error() string { return e.step + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func atField(name string, err error) error {
	return &pathError{step: fmt.Sprintf("field %q", name), err: err}
}

func atItem(i int, err error) error {
	return &pathError{step: fmt.Sprintf("item %d", i), err: err}
}

func atKey(k string, err error) error {
	return &pathError{step: fmt.Sprintf("key %q", k), err: err}
}

func atBranch(i int, err error) error {
	return &pathError{step: fmt.Sprintf("union branch %d", i), err: err}
}

// topError adds the package prefix once, at the API boundary.
func topError(err error) error {
	if err == nil {
		return nil
	}
	return &pathError{step: "avrox", err: err}
}
