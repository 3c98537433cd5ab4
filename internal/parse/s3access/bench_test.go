package s3access

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
)

// benchInput returns n lines of typical access logs
// (about 350 bytes each: the 2019 docs example, current-format lines with
// access point ARN, and the Elastic lines), and the number of lines.
func benchInput(b *testing.B, n int) ([]byte, int) {
	var src []string
	for _, f := range []string{
		"s3access/aws-docs-LogFormat-2019-example.log",
		"s3access/aws-docs-LogFormat-current-example-partial.log",
		"peers/elastic-s3access/integrations/test-s3-server-access.log.latest-225bb8f2",
		"s3access/panther-go_s3_server_access_test_lines.log",
	} {
		src = append(src, lines(readFile(b, f))...)
	}
	var buf bytes.Buffer
	for i := range n {
		buf.WriteString(src[i%len(src)])
		buf.WriteByte('\n')
	}
	return buf.Bytes(), n
}

// BenchmarkParse measures Parse on typical lines, in lines/s and MB/s.
func BenchmarkParse(b *testing.B) {
	data, n := benchInput(b, 100000)
	var batch event.Batch
	emit := func(*event.Batch) error { return nil }
	r := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		if err := Parse(context.Background(), r, &batch, 1000, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(len(data))/float64(n), "B/line")
}

// BenchmarkParseLine measures the tokenizer alone on one typical line.
func BenchmarkParseLine(b *testing.B) {
	line := []byte(good)
	var rec event.AccessLog
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseLine(line, &rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseTime compares the fast time parser with time.Parse.
func BenchmarkParseTime(b *testing.B) {
	v := []byte("06/Feb/2019:00:00:38 +0000")
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, ok := parseTime(v); !ok {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("time.Parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := timeParse(string(v)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func timeParse(s string) (any, error) { return time.Parse(timeLayout, s) }
