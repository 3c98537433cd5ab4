package cloudtrail

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/trailwatch/trailwatch/internal/event"
)

// benchInput builds an uncompressed {"Records":[...]} file of n compact
// records cycled from the Elastic sample file.
func benchInput(tb testing.TB, n int) []byte {
	tb.Helper()
	data, err := os.ReadFile("../../../../shared/testdata/cloudtrail/beats-awss3-testdata/aws-cloudtrail.json")
	if err != nil {
		tb.Skip(err)
	}
	var f struct{ Records []json.RawMessage }
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		var c bytes.Buffer
		_ = json.Compact(&c, f.Records[i%len(f.Records)])
		buf.Write(c.Bytes())
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

func BenchmarkParse(b *testing.B) {
	in := benchInput(b, 20000)
	p := NewParser(Options{})
	var batch event.Batch
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for range b.N {
		err := p.Parse(context.Background(), bytes.NewReader(in), &batch, func(bt *event.Batch) error {
			n += len(bt.Events) + len(bt.Insights)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
