package sim

// The scheduler is the simulator's only source of time and order: a queue of
// callbacks keyed by (virtual time, sequence number). Events at the same
// instant run in the order they were scheduled, so a run is a pure function
// of the seed: no goroutines, no wall clock, no map iteration.

type event struct {
	at  int64 // virtual nanoseconds since the run started
	seq uint64
	fn  func()
}

type scheduler struct {
	now   int64
	seq   uint64
	queue []event // a binary min-heap on (at, seq)
	steps uint64  // events run, for cancellation checks and statistics
}

// at schedules fn at virtual time t (never in the past).
func (s *scheduler) at(t int64, fn func()) {
	if t < s.now {
		t = s.now
	}
	s.seq++
	s.queue = append(s.queue, event{at: t, seq: s.seq, fn: fn})
	s.up(len(s.queue) - 1)
}

// after schedules fn d nanoseconds from now.
func (s *scheduler) after(d int64, fn func()) { s.at(s.now+d, fn) }

// next pops the earliest event, advancing the clock to it. It reports false
// when the queue is empty or the earliest event is later than limit.
func (s *scheduler) next(limit int64) (func(), bool) {
	if len(s.queue) == 0 || s.queue[0].at > limit {
		return nil, false
	}
	e := s.queue[0]
	last := len(s.queue) - 1
	s.queue[0] = s.queue[last]
	s.queue[last] = event{}
	s.queue = s.queue[:last]
	if last > 0 {
		s.down(0)
	}
	s.now = e.at
	s.steps++
	return e.fn, true
}

func less(a, b *event) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (s *scheduler) up(i int) {
	q := s.queue
	for i > 0 {
		p := (i - 1) / 2
		if !less(&q[i], &q[p]) {
			return
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (s *scheduler) down(i int) {
	q := s.queue
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && less(&q[r], &q[l]) {
			m = r
		}
		if !less(&q[m], &q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}
