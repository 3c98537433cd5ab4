package pipeline

import (
	"compress/flate"
	"context"
	"errors"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
)

// Reasoner is implemented by errors that name their own reason label
// (e.g. an AWS error: "access_denied", "not_found", "throttled").
type Reasoner interface {
	Reason() string
}

// reasonError labels an error the pipeline raises itself.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string  { return e.err.Error() }
func (e *reasonError) Unwrap() error  { return e.err }
func (e *reasonError) Reason() string { return e.reason }

// Reason classifies why an object failed as a short, stable label for
// metrics and reports: access_denied, not_found, throttled, server_error,
// network, corrupt_gzip, truncated, empty, unrecognized, not_cloudtrail,
// bad_records, poison, not_a_notification, canceled, timeout or other.
// It returns "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var r Reasoner
	if errors.As(err, &r) {
		if s := r.Reason(); s != "" {
			return s
		}
	}
	if IsRetryable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return "network" // a read cut short; what the source could not label
	}
	var nc *cloudtrail.NotCloudTrailError
	var se *event.SkippedError
	var fe flate.CorruptInputError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &fe):
		return "corrupt_gzip"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case errors.As(err, &nc):
		return "not_cloudtrail"
	case errors.As(err, &se):
		return "bad_records"
	}
	return "other"
}
