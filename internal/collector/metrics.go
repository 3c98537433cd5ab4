package collector

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
)

// metrics exports the pipeline's and the sources' counters (read at
// scrape time from their atomics) and what the per-object hook counts.
type metrics struct {
	c *Collector

	objects  *prometheus.CounterVec // source, kind, outcome
	errors   *prometheus.CounterVec // source, reason, outcome
	lag      *prometheus.GaugeVec   // account, region, kind: now - the object's time at commit
	newest   *prometheus.GaugeVec   // account, region, kind: the newest object's time
	lagHist  *prometheus.HistogramVec
	mu       sync.Mutex
	newestAt map[[3]string]time.Time
	failures map[Failure]int64

	descs map[string]*prometheus.Desc
}

func newMetrics(c *Collector) *metrics {
	m := &metrics{
		c: c,
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trailwatch_objects_total", Help: "Log objects finished, by source, kind and outcome (stored, quarantined, skipped, retry).",
		}, []string{"source", "kind", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trailwatch_object_errors_total", Help: "Objects quarantined or handed back for a retry, by source and reason.",
		}, []string{"source", "reason", "outcome"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trailwatch_delivery_lag_seconds", Help: "Time from a log object's timestamp (in its key) to its commit, for the last object of each account, region and kind.",
		}, []string{"account", "region", "kind"}),
		newest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trailwatch_newest_object_timestamp_seconds", Help: "Timestamp of the newest log object committed, by account, region and kind (alert when it stops moving).",
		}, []string{"account", "region", "kind"}),
		lagHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trailwatch_delivery_lag_histogram_seconds", Help: "Distribution of delivery lag (object timestamp to commit).",
			Buckets: []float64{60, 300, 600, 900, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 7 * 86400},
		}, []string{"kind"}),
		newestAt: map[[3]string]time.Time{},
		failures: map[Failure]int64{},
		descs:    map[string]*prometheus.Desc{},
	}
	for name, help := range map[string]string{
		"trailwatch_records_total":             "Records parsed.",
		"trailwatch_records_stored_total":      "Records committed to the store (after the duplicate check).",
		"trailwatch_records_duplicate_total":   "Records dropped as already stored.",
		"trailwatch_records_bad_total":         "Records skipped as unreadable (their objects are quarantined in part).",
		"trailwatch_bytes_total":               "Bytes of log objects read, as stored (compressed).",
		"trailwatch_commits_total":             "Store commits.",
		"trailwatch_quarantined_objects_total": "Objects quarantined (SELECT * FROM quarantine shows why).",
		"trailwatch_up":                        "1 while the pipeline runs.",
		"trailwatch_ready":                     "1 when every source passed its check and the pipeline runs.",
		"trailwatch_start_time_seconds":        "When the collector started.",
	} {
		m.descs[name] = prometheus.NewDesc(name, help, nil, nil)
	}
	m.descs["build"] = prometheus.NewDesc("trailwatch_build_info", "Version of trailwatch.", []string{"version"}, nil)
	src := []string{"source"}
	for name, help := range map[string]string{
		"trailwatch_sqs_messages_received_total":    "SQS messages received.",
		"trailwatch_sqs_messages_deleted_total":     "SQS messages deleted after every object they announce was committed.",
		"trailwatch_sqs_delete_errors_total":        "SQS messages that could not be deleted (they come back; the ledger makes that harmless).",
		"trailwatch_sqs_test_events_total":          "s3:TestEvent messages (acknowledged and skipped).",
		"trailwatch_sqs_messages_ignored_total":     "Messages announcing nothing to collect (removals, other event types).",
		"trailwatch_sqs_objects_skipped_total":      "Announced objects of kinds this source does not collect.",
		"trailwatch_sqs_messages_poison_total":      "Messages quarantined after too many receives.",
		"trailwatch_sqs_messages_unparseable_total": "Messages that are not notifications (quarantined).",
		"trailwatch_sqs_messages_retried_total":     "Messages handed back for a later retry.",
		"trailwatch_sqs_visibility_extended_total":  "Visibility timeout extensions by the heartbeat.",
		"trailwatch_sqs_receive_errors_total":       "Failed receive calls (retried with backoff).",
		"trailwatch_sqs_message_age_seconds":        "Age of the last message received (now - SentTimestamp): the queue's lag.",
		"trailwatch_poll_objects_listed_total":      "Objects listed and handed out by bucket polling.",
		"trailwatch_poll_bytes_listed_total":        "Bytes of the objects listed by bucket polling.",
		"trailwatch_poll_passes_total":              "Listing passes over the bucket.",
		"trailwatch_poll_list_errors_total":         "Failed listing passes (retried at the next interval).",
		"trailwatch_source_up":                      "1 unless the source failed (see /readyz for why).",
	} {
		m.descs[name] = prometheus.NewDesc(name, help, src, nil)
	}
	m.descs["depth"] = prometheus.NewDesc("trailwatch_sqs_queue_messages", "Approximate messages in the queue, by state (visible, in_flight, delayed).", []string{"source", "state"}, nil)
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
	m.objects.Describe(ch)
	m.errors.Describe(ch)
	m.lag.Describe(ch)
	m.newest.Describe(ch)
	m.lagHist.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	s := &c.stats
	counter := func(name string, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.GaugeValue, v, labels...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	counter("trailwatch_records_total", s.Records.Load())
	counter("trailwatch_records_stored_total", s.Stored.Load())
	counter("trailwatch_records_duplicate_total", s.Duplicates.Load())
	counter("trailwatch_records_bad_total", s.BadRecords.Load())
	counter("trailwatch_bytes_total", s.Bytes.Load())
	counter("trailwatch_commits_total", s.Commits.Load())
	counter("trailwatch_quarantined_objects_total", s.Quarantined.Load())
	gauge("trailwatch_up", b2f(c.running.Load()))
	ready, _ := c.readiness()
	gauge("trailwatch_ready", b2f(ready))
	gauge("trailwatch_start_time_seconds", float64(c.started.UnixMilli())/1000)
	ch <- prometheus.MustNewConstMetric(m.descs["build"], prometheus.GaugeValue, 1, c.o.Version)

	c.mu.Lock()
	states := make(map[string]sourceState, len(c.state))
	for k, v := range c.state {
		states[k] = *v
	}
	c.mu.Unlock()
	for _, src := range c.o.Sources {
		n := src.Name
		gauge("trailwatch_source_up", b2f(states[n].err == nil), n)
		if q := src.SQS; q != nil {
			counter("trailwatch_sqs_messages_received_total", q.Received.Load(), n)
			counter("trailwatch_sqs_messages_deleted_total", q.Deleted.Load(), n)
			counter("trailwatch_sqs_delete_errors_total", q.DeleteErrors.Load(), n)
			counter("trailwatch_sqs_test_events_total", q.TestEvents.Load(), n)
			counter("trailwatch_sqs_messages_ignored_total", q.Ignored.Load(), n)
			counter("trailwatch_sqs_objects_skipped_total", q.Skipped.Load(), n)
			counter("trailwatch_sqs_messages_poison_total", q.Poison.Load(), n)
			counter("trailwatch_sqs_messages_unparseable_total", q.Unparseable.Load(), n)
			counter("trailwatch_sqs_messages_retried_total", q.Retried.Load(), n)
			counter("trailwatch_sqs_visibility_extended_total", q.Extended.Load(), n)
			counter("trailwatch_sqs_receive_errors_total", q.ReceiveErrs.Load(), n)
			gauge("trailwatch_sqs_message_age_seconds", float64(q.LagMillis.Load())/1000, n)
		}
		if st := states[n]; st.depOK {
			ch <- prometheus.MustNewConstMetric(m.descs["depth"], prometheus.GaugeValue, float64(st.depth.Visible), n, "visible")
			ch <- prometheus.MustNewConstMetric(m.descs["depth"], prometheus.GaugeValue, float64(st.depth.InFlight), n, "in_flight")
			ch <- prometheus.MustNewConstMetric(m.descs["depth"], prometheus.GaugeValue, float64(st.depth.Delayed), n, "delayed")
		}
		if p := src.Poll; p != nil {
			counter("trailwatch_poll_objects_listed_total", p.Listed.Load(), n)
			counter("trailwatch_poll_bytes_listed_total", p.ListedBytes.Load(), n)
			counter("trailwatch_poll_passes_total", p.Passes.Load(), n)
			counter("trailwatch_poll_list_errors_total", p.ListErrors.Load(), n)
		}
	}
	m.objects.Collect(ch)
	m.errors.Collect(ch)
	m.lag.Collect(ch)
	m.newest.Collect(ch)
	m.lagHist.Collect(ch)
}

// observe counts one finished object.
func (m *metrics) observe(o *pipeline.Object, r pipeline.Result) {
	kind := r.Kind
	ki := keyInfo(o)
	if kind == event.KindUnknown {
		kind = ki.Kind
	}
	m.objects.WithLabelValues(o.Source, kind.String(), r.Outcome).Inc()
	if r.Err != nil {
		reason := pipeline.Reason(r.Err)
		m.errors.WithLabelValues(o.Source, reason, r.Outcome).Inc()
		m.mu.Lock()
		m.failures[Failure{Outcome: r.Outcome, Reason: reason}]++
		m.mu.Unlock()
	}
	if r.Outcome != pipeline.OutcomeStored || ki.Date.IsZero() {
		return
	}
	lag := time.Since(ki.Date).Seconds()
	k := [3]string{orUnknown(ki.AccountID), orUnknown(ki.Region), kind.String()}
	m.lagHist.WithLabelValues(k[2]).Observe(lag)
	m.mu.Lock()
	defer m.mu.Unlock()
	if ki.Date.Before(m.newestAt[k]) {
		return // an older file delivered late (a backfill): not the current lag
	}
	m.newestAt[k] = ki.Date
	m.lag.WithLabelValues(k[:]...).Set(lag)
	m.newest.WithLabelValues(k[:]...).Set(float64(ki.Date.Unix()))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
