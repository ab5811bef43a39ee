package controller

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a failure the API reports with a status code and one line.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotLeader is returned for changes asked of a controller that is not
// the region's active one.
var ErrNotLeader = &Error{Status: http.StatusServiceUnavailable, Msg: "this controller is not the active one of its region; retry"}

// statusOf maps an error to an HTTP status.
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
