package pipeline

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
)

type labeled string

func (l labeled) Error() string  { return string(l) }
func (l labeled) Reason() string { return string(l) }

func TestReason(t *testing.T) {
	_, gzErr := gzip.NewReader(bytes.NewReader([]byte("not gzip at all")))
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("open: %w", &RetryableError{Err: labeled("throttled")}), "throttled"},
		{&RetryableError{Err: fmt.Errorf("connection closed after 10 of 20 bytes: %w", io.ErrUnexpectedEOF)}, "network"},
		{fmt.Errorf("x: %w", context.Canceled), "canceled"},
		{context.DeadlineExceeded, "timeout"},
		{describeReadErr(gzErr), "corrupt_gzip"},
		{describeReadErr(gzip.ErrChecksum), "corrupt_gzip"},
		{fmt.Errorf("read: %w", flate.CorruptInputError(7)), "corrupt_gzip"},
		{describeReadErr(io.ErrUnexpectedEOF), "truncated"},
		{&cloudtrail.NotCloudTrailError{Reason: "x"}, "not_cloudtrail"},
		{&event.SkippedError{Skipped: 1}, "bad_records"},
		{&reasonError{"empty", errors.New("the object is empty")}, "empty"},
		{errors.New("something else"), "other"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
