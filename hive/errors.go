package hive

import (
	"errors"
	"fmt"
	"net/http"
)

// Code says what kind of failure an Error is. Codes travel over the wire, so
// a caller can react to a remote failure without parsing its message.
type Code string

// The codes an RPC can fail with.
const (
	BadRequest  Code = "bad_request" // the request is wrong; sending it again will not help
	NotFound    Code = "not_found"   // the method, or the thing the request names, does not exist
	Conflict    Code = "conflict"    // the request clashes with the current state, e.g. a duplicate
	Unavailable Code = "unavailable" // nothing was done; another instance, or a later try, may succeed
	Timeout     Code = "timeout"     // the deadline passed before an answer came
	Internal    Code = "internal"    // a bug or an unexpected failure in the called service
)

// Error is the one error type that crosses the wire. A handler returns one to
// tell the caller what went wrong; the caller gets the same code and message
// back as an *Error, which it can inspect with errors.As, or compare with the
// Err* values using errors.Is.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`

	// Method is the remote method that failed ("menu.get"), set on the
	// caller's side, so that a remote failure never reads like a local bug.
	Method string `json:"-"`

	cause error // a local cause, such as context.DeadlineExceeded, for errors.Is
}

// Errorf returns an *Error with the given code and a formatted message.
// Handlers use it to fail with a code the caller can act on:
//
//	return Reply{}, hive.Errorf(hive.BadRequest, "name must not be empty")
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Method != "" {
		return fmt.Sprintf("%s: %s: %s", e.Method, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, hive.ErrNotFound) true for every *Error whose
// code is NotFound, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Unwrap returns the local cause, if any, so that errors.Is(err,
// context.DeadlineExceeded) holds for a call that timed out.
func (e *Error) Unwrap() error { return e.cause }

// Values to compare errors with, using errors.Is:
//
//	if errors.Is(err, hive.ErrNotFound) { ... }
var (
	ErrBadRequest  = &Error{Code: BadRequest}
	ErrNotFound    = &Error{Code: NotFound}
	ErrConflict    = &Error{Code: Conflict}
	ErrUnavailable = &Error{Code: Unavailable}
	ErrTimeout     = &Error{Code: Timeout}
	ErrInternal    = &Error{Code: Internal}
)

// asError turns any error into an *Error. An error that is not an *Error
// is a bug as far as the caller can tell: Internal. (A method's plain error
// never gets here: answeredAs makes it an incident, which hides its text.)
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: err.Error()}
}

// httpStatus maps a code to the HTTP status sent with it, so that curl and
// HTTP tooling show failures as failures.
func (c Code) httpStatus() int {
	switch c {
	case BadRequest:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unavailable:
		return http.StatusServiceUnavailable
	case Timeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}
