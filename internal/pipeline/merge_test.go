package pipeline

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/trailwatch/trailwatch/internal/event"
)

type listSource struct {
	mu      sync.Mutex
	keys    []string
	err     error // returned after the keys
	stopped bool
}

func (l *listSource) Next(ctx context.Context) (*Object, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || len(l.keys) == 0 {
		if l.err != nil && !l.stopped {
			return nil, l.err
		}
		return nil, io.EOF
	}
	k := l.keys[0]
	l.keys = l.keys[1:]
	return &Object{Ref: event.ObjectRef{Key: k}}, nil
}

func (l *listSource) Stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

func drainMerged(t *testing.T, m *Merged) (map[string]string, error) {
	t.Helper()
	got := map[string]string{}
	for {
		o, err := m.Next(context.Background())
		if err != nil {
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got[o.Ref.Key] = o.Source
	}
}

func TestMerge(t *testing.T) {
	a := &listSource{keys: []string{"a1", "a2", "a3"}}
	b := &listSource{keys: []string{"b1"}}
	got, err := drainMerged(t, Merge(Named{"a", a}, Named{"b", b}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a1": "a", "a2": "a", "a3": "a", "b1": "b"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s from %q, want %q", k, got[k], v)
		}
	}
	if _, err := drainMerged(t, Merge()); err != nil {
		t.Errorf("no sources: %v", err)
	}
}

func TestMergeFailure(t *testing.T) {
	boom := errors.New("queue does not exist")
	t.Run("first failure ends the run", func(t *testing.T) {
		a := &listSource{keys: []string{"a1"}, err: boom}
		b := &listSource{keys: make([]string, 1000)}
		_, err := drainMerged(t, Merge(Named{"a", a}, Named{"b", b}))
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if !b.stopped {
			t.Error("the other source was not stopped")
		}
	})
	t.Run("OnError keeps the others going", func(t *testing.T) {
		a := &listSource{keys: []string{"a1"}, err: boom}
		b := &listSource{keys: []string{"b1", "b2"}}
		m := Merge(Named{"a", a}, Named{"b", b})
		var failed []string
		var mu sync.Mutex
		m.OnError = func(name string, err error) { mu.Lock(); failed = append(failed, name); mu.Unlock() }
		got, err := drainMerged(t, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || !slices.Equal(failed, []string{"a"}) || !errors.Is(m.Err(), boom) {
			t.Errorf("got %v, failed %v, Err %v", got, failed, m.Err())
		}
	})
}

func TestMergeStop(t *testing.T) {
	a := &listSource{keys: make([]string, 100)}
	m := Merge(Named{"a", a})
	if _, err := m.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	n := 0
	for {
		_, err := m.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n > 2 {
		t.Errorf("%d objects handed out after Stop", n)
	}
}
