package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Named is a source with the name it is known by in logs and metrics.
type Named struct {
	Name   string
	Source Source
}

// Stopper is implemented by sources that can stop handing out objects
// while the objects already handed out are finished (a graceful drain).
type Stopper interface {
	Stop()
}

// Starver is implemented by sources that hold what they hand out until it
// is acknowledged (an SQS message is deleted after the commit that stores
// its objects) and can hand out no more once they hold their limit.
// Starved is signalled when such a source waits for acknowledgements: the
// pipeline then commits at once instead of waiting to be idle.
type Starver interface {
	Starved() <-chan struct{}
}

// Merged reads several sources at once: each is pulled by its own
// goroutine only when the pipeline asks for work, so no source holds more
// than one object it was not asked for.
type Merged struct {
	srcs []Named
	// OnError, when set, is told a source's failure; that source ends and
	// the others go on (a daemon). When nil, Next returns the first
	// failure.
	OnError func(name string, err error)

	once sync.Once
	out  chan *Object
	mu   sync.Mutex
	errs []error
	live int
	done chan struct{} // closed when every source has ended
	// starved forwards the sources' Starved signals.
	starved chan struct{}
}

// Merge returns a Source over srcs; each object's Source field is set to
// the name of the source it came from.
func Merge(srcs ...Named) *Merged {
	return &Merged{srcs: srcs, out: make(chan *Object), done: make(chan struct{}), live: len(srcs), starved: make(chan struct{}, 1)}
}

// Starved is signalled when any of the sources is starved (Starver).
func (m *Merged) Starved() <-chan struct{} { return m.starved }

// Next returns the next object from any source; io.EOF once all are
// exhausted.
func (m *Merged) Next(ctx context.Context) (*Object, error) {
	m.once.Do(func() {
		if len(m.srcs) == 0 {
			close(m.done)
		}
		for _, s := range m.srcs {
			go m.pull(ctx, s)
			if sv, ok := s.Source.(Starver); ok {
				go m.forwardStarved(ctx, sv.Starved())
			}
		}
	})
	select {
	case o := <-m.out:
		return o, nil
	case <-m.done:
		select { // an object sent just before the last source ended
		case o := <-m.out:
			return o, nil
		default:
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.errs) > 0 && m.OnError == nil {
			return nil, errors.Join(m.errs...)
		}
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Merged) forwardStarved(ctx context.Context, c <-chan struct{}) {
	for {
		select {
		case <-c:
			select {
			case m.starved <- struct{}{}:
			default:
			}
		case <-m.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (m *Merged) pull(ctx context.Context, s Named) {
	defer func() {
		m.mu.Lock()
		m.live--
		if m.live == 0 {
			close(m.done)
		}
		m.mu.Unlock()
	}()
	for {
		o, err := s.Source.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return
			}
			if m.OnError != nil {
				m.OnError(s.Name, err)
			}
			m.mu.Lock()
			m.errs = append(m.errs, err)
			m.mu.Unlock()
			if m.OnError == nil {
				m.Stop() // the run fails: stop the others too
			}
			return
		}
		o.Source = s.Name
		select {
		case m.out <- o:
		case <-ctx.Done():
			return
		}
	}
}

// Err returns the sources' failures so far, joined.
func (m *Merged) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// Stop stops every source that can stop.
func (m *Merged) Stop() {
	for _, s := range m.srcs {
		if st, ok := s.Source.(Stopper); ok {
			st.Stop()
		}
	}
}
