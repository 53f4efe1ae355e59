package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors that survive the trip over the wire. A Generator
// implementation wraps them (fmt.Errorf("...: %w", sdk.ErrNotFound)) so that
// the host can tell the cases apart with errors.Is.
var (
	// ErrNotFound: a model directory (or another named input) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: e.g. training without Resume into an existing model dir.
	ErrAlreadyExists = errors.New("already exists")
	// ErrPluginExited: the plugin process died or became unreachable.
	ErrPluginExited = errors.New("plugin process exited unexpectedly")
)

// toStatus turns an error returned by a Generator into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrInvalidRequest):
		code = codes.InvalidArgument
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

// RemoteError is an error reported by the plugin. Its message is the
// plugin's own; errors.Is matches the sentinel corresponding to its gRPC code
// (ErrInvalidRequest, ErrNotFound, ErrAlreadyExists, context.Canceled, ...).
type RemoteError struct {
	// Code is the gRPC status code the plugin answered with.
	Code codes.Code
	// Message is the plugin's error message.
	Message string
	kind    error
}

// Error implements error.
func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel error for Code, if any.
func (e *RemoteError) Unwrap() error { return e.kind }

// fromStatus turns an RPC error into a readable Go error. ctx is the call's
// context; exited reports whether the plugin process is gone (may be nil).
func fromStatus(ctx context.Context, err error, exited func() bool) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: ErrInvalidRequest}
	case codes.NotFound:
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: ErrNotFound}
	case codes.AlreadyExists:
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: ErrAlreadyExists}
	case codes.Canceled:
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: context.Canceled}
	case codes.DeadlineExceeded:
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: context.DeadlineExceeded}
	case codes.Unavailable, codes.Internal:
		// A broken connection. Say so plainly if the process is gone.
		if exited != nil && exited() {
			return fmt.Errorf("%w (%s)", ErrPluginExited, st.Message())
		}
		return fmt.Errorf("%w: connection lost (%s)", ErrPluginExited, st.Message())
	}
	return &RemoteError{Code: st.Code(), Message: st.Message()}
}
