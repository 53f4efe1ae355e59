package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
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
	var ve *ValidationError
	if errors.As(err, &ve) {
		// The field travels as a BadRequest detail, so that the host can
		// name what its user typed.
		st, derr := status.New(codes.InvalidArgument, err.Error()).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: ve.Field, Description: ve.Problem}},
		})
		if derr == nil {
			return st.Err()
		}
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
// (ErrInvalidRequest, ErrNotFound, ErrAlreadyExists, context.Canceled, ...),
// and errors.As finds the *ValidationError of a refused request.
type RemoteError struct {
	// Code is the gRPC status code the plugin answered with.
	Code codes.Code
	// Message is the plugin's error message.
	Message string
	kind    error
	invalid *ValidationError
}

// Error implements error.
func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel error for Code and the validation error, if any.
func (e *RemoteError) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.invalid != nil {
		out = append(out, e.invalid)
	}
	return out
}

// validationFromStatus returns the ValidationError carried in st's details.
func validationFromStatus(st *status.Status) *ValidationError {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			fv := br.GetFieldViolations()[0]
			return &ValidationError{Field: fv.GetField(), Problem: fv.GetDescription()}
		}
	}
	return nil
}

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
		return &RemoteError{Code: st.Code(), Message: st.Message(), kind: ErrInvalidRequest, invalid: validationFromStatus(st)}
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
