package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// statusLine is the live line `dqtest run` keeps at the bottom of a
// terminal during a run:
//
//	default  12s/40s  ok 523  fail 3  info 1  faults: partition-halves (n1 n2)
//
// It counts from the events the harness records (Options.Observe), so it
// shows what the history will hold. Log lines pass through Write, which
// lifts the status line, prints them and puts it back. There is none when
// stderr is not a terminal: a CI log gets the plain log lines only.
type statusLine struct {
	term  io.Writer
	width int

	mu       sync.Mutex
	scenario string
	limit    time.Duration
	started  time.Time // wall clock, when the run started
	// firstOp is the history time of the first client event; wallFirst the
	// wall clock then. The elapsed time is the larger of history time and
	// wall time since then: history time is virtual on the simulator.
	firstOp, lastTime int64
	wallFirst         time.Time
	ok, fail, info    int
	faults            map[string][]string
	shown             bool
	stop              chan struct{}
	stopped           chan struct{}
}

// newStatusLine returns a status line on stderr, or nil when stderr is
// not a terminal (or TERM says it cannot move the cursor).
func newStatusLine() *statusLine {
	fd := int(os.Stderr.Fd())
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || os.Getenv("TERM") == "dumb" {
		return nil
	}
	return &statusLine{term: os.Stderr, width: max(int(ws.Col), 40)}
}

// Begin starts the line for one run and redraws it four times a second.
func (s *statusLine) Begin(scenario string, limit time.Duration) {
	s.mu.Lock()
	s.scenario, s.limit, s.started = scenario, limit, time.Now()
	s.firstOp, s.lastTime, s.wallFirst = -1, 0, time.Time{}
	s.ok, s.fail, s.info = 0, 0, 0
	s.faults = map[string][]string{}
	stop, stopped := make(chan struct{}), make(chan struct{})
	s.stop, s.stopped = stop, stopped
	s.drawLocked()
	s.mu.Unlock()
	go func() {
		defer close(stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.mu.Lock()
				s.drawLocked()
				s.mu.Unlock()
			}
		}
	}()
}

// Observe counts one recorded event. The harness calls it from several
// goroutines.
func (s *statusLine) Observe(e history.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastTime = max(s.lastTime, e.Time)
	if !e.IsClient() {
		if e.Error != "" {
			return
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			s.faults[name] = e.Nodes
		} else if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			delete(s.faults, name)
		}
		return
	}
	if s.firstOp < 0 {
		s.firstOp, s.wallFirst = e.Time, time.Now()
	}
	switch e.Type {
	case history.OK:
		s.ok++
	case history.Fail:
		s.fail++
	case history.Info:
		s.info++
	}
}

// End stops redrawing and leaves the run's last line on screen, with the
// outcome.
func (s *statusLine) End(outcome checker.Verdict) {
	s.mu.Lock()
	stop, stopped := s.stop, s.stopped
	s.mu.Unlock()
	close(stop)
	<-stopped
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintln(s.term, s.textLocked()+"  → "+strings.ToUpper(string(outcome)))
}

// Write passes a log line through, keeping the status line below it.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	n, err := s.term.Write(p)
	if s.stop != nil && !closed(s.stop) {
		s.drawLocked()
	}
	return n, err
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (s *statusLine) clearLocked() {
	if s.shown {
		fmt.Fprint(s.term, "\r\033[K")
		s.shown = false
	}
}

func (s *statusLine) drawLocked() {
	if s.stop == nil || closed(s.stop) {
		return
	}
	line := s.textLocked()
	if r := []rune(line); len(r) > s.width-1 {
		line = string(r[:s.width-2]) + "…"
	}
	fmt.Fprint(s.term, "\r\033[K"+line)
	s.shown = true
}

// textLocked is the line's text.
func (s *statusLine) textLocked() string {
	var b strings.Builder
	b.WriteString(s.scenario + "  ")
	switch {
	case s.firstOp < 0:
		fmt.Fprintf(&b, "starting the cluster %s", time.Since(s.started).Truncate(time.Second))
	default:
		elapsed := max(time.Duration(s.lastTime-s.firstOp), time.Since(s.wallFirst))
		if elapsed >= s.limit {
			fmt.Fprintf(&b, "%s/%s healing, final reads, checking", s.limit, s.limit)
		} else {
			fmt.Fprintf(&b, "%s/%s", elapsed.Truncate(time.Second), s.limit)
		}
	}
	fmt.Fprintf(&b, "  ok %d  fail %d  info %d", s.ok, s.fail, s.info)
	if len(s.faults) > 0 {
		names := make([]string, 0, len(s.faults))
		for name, nodes := range s.faults {
			if len(nodes) > 0 {
				name += " (" + strings.Join(nodes, " ") + ")"
			}
			names = append(names, name)
		}
		slices.Sort(names)
		b.WriteString("  faults: " + strings.Join(names, ", "))
	}
	return b.String()
}
