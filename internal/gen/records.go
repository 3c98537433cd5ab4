package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// WriteRecordsFile writes one CloudTrail log file, {"Records":[...]} as
// uncompressed JSON on one line, holding n realistic events from seed, to
// out. It streams: memory use does not grow with n, so it suits large-file
// tests and benchmarks. Events are in time order, one to a few seconds
// apart, spread over the default organization's accounts and regions.
func WriteRecordsFile(ctx context.Context, out io.Writer, n int, seed int64) error {
	opts := Options{Seed: seed, Dir: "-"}
	opts.SetDefaults()
	w := newWorld(opts)
	w.buildTables()
	bw := bufio.NewWriterSize(out, 256<<10)
	if _, err := bw.WriteString(`{"Records":[`); err != nil {
		return fmt.Errorf("gen: writing records: %w", err)
	}
	wk := newWorker(w)
	g := &wk.g
	g.r = newRand(seed, tagRecords)
	var buf []byte
	t := w.start
	// Pick cells by weight, as Generate does.
	cellW := make([]float64, 0, len(w.accounts)*len(w.regions))
	for ai := range w.accounts {
		for ri := range w.regions {
			cellW = append(cellW, w.accountW[ai]*w.regionW[ri])
		}
	}
	cells := newWeighted(cellW)
	classW := map[[2]int64]weighted{}
	for written := 0; written < n; {
		if written%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("gen: writing records: %w", err)
			}
		}
		t += int64(g.r.IntN(3))
		ci := cells.pick(g.r)
		ai, ri := ci/len(w.regions), ci%len(w.regions)
		key := [2]int64{int64(ci), (t - w.start) / 3600}
		cw, ok := classW[key]
		if !ok {
			if len(classW) > 4096 {
				clear(classW)
			}
			cw = w.classWeights(ai, ri, t)
			classW[key] = cw
		}
		if cw.total == 0 {
			continue
		}
		g.a, g.region, g.t = w.accounts[ai], w.regions[ri], t
		buf = buf[:0]
		if written > 0 {
			buf = append(buf, ',')
		}
		buf = wk.benign(buf, &cw, cellKey{ai, ri, 0})
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("gen: writing records: %w", err)
		}
		written++
	}
	if _, err := bw.WriteString("]}"); err != nil {
		return fmt.Errorf("gen: writing records: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gen: writing records: %w", err)
	}
	return nil
}
