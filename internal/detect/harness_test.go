package detect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/parse/cloudtrail"
	"github.com/trailwatch/trailwatch/internal/parse/s3access"
	"github.com/trailwatch/trailwatch/internal/source/dir"
)

// feedTree parses every log file under root, in delivery order, into the
// engine, as ingest would (without a store).
func feedTree(t testing.TB, eng *Engine, root string) int {
	t.Helper()
	n := feedTreeTo(t, eng, root)
	eng.Flush()
	return n
}

// observer is what feedTreeTo feeds.
type observer interface {
	Observe(ctx context.Context, b *event.Batch)
}

// feedTreeTo parses the log files under root into o.
func feedTreeTo(t testing.TB, eng observer, root string) int {
	t.Helper()
	ctx := context.Background()
	src, err := dir.Open([]string{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cloudtrail.NewParser(cloudtrail.Options{})
	var batch event.Batch
	n := 0
	for {
		obj, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kind := event.ClassifyKey(obj.Ref.Key).Kind
		if kind == event.KindDigest || kind == event.KindUnknown {
			continue
		}
		rc, err := obj.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(data)
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			gz, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = gz
		}
		emit := func(b *event.Batch) error {
			b.Object = obj.Ref
			n += b.Len()
			eng.Observe(ctx, b)
			return nil
		}
		batch.Reset()
		if kind == event.KindAccessLog {
			err = s3access.Parse(ctx, bufio.NewReader(r), &batch, 4096, emit)
		} else {
			err = p.Parse(ctx, r, &batch, emit)
		}
		if err != nil {
			t.Fatalf("%s: %v", obj.Ref.Key, err)
		}
	}
	return n
}
