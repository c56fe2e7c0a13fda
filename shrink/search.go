package shrink

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/scenario"
)

// Granularity of the offsets and durations the search tries.
const (
	tick        = 100 * time.Millisecond
	minDuration = 500 * time.Millisecond
	minNodes    = 3
)

func sortEpisodes(eps []Episode) {
	slices.SortStableFunc(eps, func(a, b Episode) int { return cmp.Compare(a.Start, b.Start) })
}

// listEpisodes names a few episodes for a log line.
func listEpisodes(eps []Episode) string {
	var parts []string
	for i, e := range eps {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("... %d more", len(eps)-3))
			break
		}
		parts = append(parts, e.String())
	}
	return strings.Join(parts, ", ")
}

// cutAt drops what comes after the finding: the episodes that start
// after it, and the time limit cut to a second after it (then five).
func (s *shrinker) cutAt(ctx context.Context, t time.Duration) {
	for _, slack := range []time.Duration{time.Second, 5 * time.Second} {
		cut := (t + slack).Truncate(time.Second) + time.Second
		if cut >= s.best.timeLimit {
			return
		}
		c := s.best.clone()
		c.timeLimit = cut
		var kept []Episode
		for _, e := range c.eps {
			if e.Start > cut-2*tick {
				continue
			}
			if e.HasStop && e.Stop >= cut {
				e.Stop = cut - tick
			}
			kept = append(kept, e)
		}
		c.eps = kept
		if s.try(ctx, c, fmt.Sprintf("cut after the finding (at %s): time limit %s, %d of %d episodes kept",
			t.Round(tick), cut, len(kept), len(s.best.eps))) {
			return
		}
	}
}

// aroundOnly keeps only the episodes in force in the five seconds up to
// the finding.
func (s *shrinker) aroundOnly(ctx context.Context, t time.Duration) {
	var kept []Episode
	for _, e := range s.best.eps {
		if e.Start <= t && e.End() >= t-5*time.Second {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 || len(kept) == len(s.best.eps) {
		return
	}
	c := s.best.clone()
	c.eps = kept
	s.try(ctx, c, fmt.Sprintf("keep only the episodes in force around the finding: %s", listEpisodes(kept)))
}

// ddmin is delta debugging (Zeller's ddmin) over the best candidate's
// episodes: no episode at all, then the episodes split in n parts (2, 4,
// ...): each part alone, then each part dropped, until single episodes.
func (s *shrinker) ddmin(ctx context.Context) {
	if len(s.best.eps) == 0 {
		return
	}
	{
		c := s.best.clone()
		c.eps = nil
		if s.try(ctx, c, fmt.Sprintf("drop every episode (%d)", len(s.best.eps))) {
			return
		}
	}
	n := 2
	for len(s.best.eps) >= 2 && !s.over(ctx) {
		eps := s.best.eps
		parts := split(len(eps), n)
		reduced := false
		for _, p := range parts {
			sub := slices.Clone(eps[p[0]:p[1]])
			c := s.best.clone()
			c.eps = sub
			if s.try(ctx, c, fmt.Sprintf("keep only episodes %d-%d of %d: %s", p[0]+1, p[1], len(eps), listEpisodes(sub))) {
				n, reduced = 2, true
				break
			}
		}
		if !reduced {
			for _, p := range parts {
				rest := append(slices.Clone(eps[:p[0]]), eps[p[1]:]...)
				if len(rest) == 0 {
					continue
				}
				c := s.best.clone()
				c.eps = rest
				if s.try(ctx, c, fmt.Sprintf("drop episodes %d-%d of %d: %s", p[0]+1, p[1], len(eps), listEpisodes(eps[p[0]:p[1]]))) {
					n, reduced = max(n-1, 2), true
					break
				}
			}
		}
		if reduced {
			continue
		}
		if n >= len(eps) {
			break
		}
		n = min(2*n, len(eps))
	}
}

// split cuts [0, n) into k nearly equal parts, as [from, to) pairs.
func split(n, k int) [][2]int {
	k = min(k, n)
	var parts [][2]int
	from := 0
	for i := range k {
		to := from + (n-from)/(k-i)
		parts = append(parts, [2]int{from, to})
		from = to
	}
	return parts
}

// moveEarlier moves each episode, first to last, as early as it goes (to
// the start of the one before it, the first one to the workload's start),
// else halfway there; then shortens each fault (a quarter, else half of
// its duration).
func (s *shrinker) moveEarlier(ctx context.Context) {
	for i := 0; i < len(s.best.eps) && !s.over(ctx); i++ {
		ep := s.best.eps[i]
		lb := time.Duration(0)
		if i > 0 {
			lb = s.best.eps[i-1].Start
		}
		for _, to := range distinctBelow(ep.Start, lb, lb+((ep.Start-lb)/2).Truncate(tick)) {
			c := s.best.clone()
			d := to - ep.Start
			c.eps[i].Start += d
			if c.eps[i].HasStop {
				c.eps[i].Stop += d
			}
			sortEpisodes(c.eps)
			if s.try(ctx, c, fmt.Sprintf("move %s earlier, to %s", ep, to)) {
				break
			}
		}
	}
	for i := 0; i < len(s.best.eps) && !s.over(ctx); i++ {
		ep := s.best.eps[i]
		if !ep.HasStop {
			continue
		}
		d := ep.Stop - ep.Start
		for _, nd := range distinctBelow(d, max(minDuration, (d/4).Truncate(tick)), max(minDuration, (d/2).Truncate(tick))) {
			c := s.best.clone()
			c.eps[i].Stop = ep.Start + nd
			if s.try(ctx, c, fmt.Sprintf("shorten %s to %s", ep, nd)) {
				break
			}
		}
	}
}

// distinctBelow lists the values below limit, without repeats, in order.
func distinctBelow[T cmp.Ordered](limit T, vals ...T) []T {
	var out []T
	for _, v := range vals {
		if v < limit && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// minTimeLimit is the shortest time limit the best candidate's steps fit
// in: the whole second after its last step.
func (s *shrinker) minTimeLimit() time.Duration {
	last := time.Duration(0)
	for _, e := range s.best.eps {
		last = max(last, e.End())
	}
	return last.Truncate(time.Second) + time.Second
}

// shortenTime bisects the time limit, in whole seconds, between the
// shortest the steps allow and the current one.
func (s *shrinker) shortenTime(ctx context.Context) {
	lo := s.minTimeLimit()
	hi := s.best.timeLimit
	if lo >= hi {
		return
	}
	probes := 6
	if !s.exact {
		probes = 3
	}
	try := func(tl time.Duration) bool {
		c := s.best.clone()
		c.timeLimit = tl
		return s.try(ctx, c, fmt.Sprintf("time limit %s -> %s", s.best.timeLimit, tl))
	}
	probes--
	if try(lo) {
		return
	}
	for ; probes > 0 && hi-lo > time.Second && !s.over(ctx); probes-- {
		mid := (lo + (hi-lo)/2).Truncate(time.Second)
		if mid <= lo {
			mid = lo + time.Second
		}
		if mid >= hi {
			break
		}
		if try(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
}

// fewerNodes takes the cluster down two nodes at a time (7 -> 5 -> 3):
// every episode's targets remapped onto the nodes left (n4 of 5 becomes
// n1 of 3), else the episodes that touch a removed node dropped.
func (s *shrinker) fewerNodes(ctx context.Context) {
	for s.best.nodes-2 >= minNodes && !s.over(ctx) {
		m := s.best.nodes - 2
		spec := s.base.Nemesis.Targets
		c := s.best.clone()
		c.nodes = m
		c.nodeArgs = remapNodeArgs(c.nodeArgs, m)
		c.dqliteNodes = remapVersions(c.dqliteNodes, m)
		for i := range c.eps {
			if t, ok := RemapTargets(c.eps[i], m, spec); ok {
				c.eps[i].Targets = t
			} else {
				c.eps[i].Targets = nil
			}
		}
		if s.try(ctx, c, fmt.Sprintf("%d -> %d nodes, targets remapped", s.best.nodes, m)) {
			continue
		}
		d := s.best.clone()
		d.nodes = m
		d.nodeArgs = nil
		d.dqliteNodes = remapVersions(d.dqliteNodes, m)
		for node, args := range s.best.nodeArgs {
			if slices.Contains(scenario.NodeNames(m), node) {
				if d.nodeArgs == nil {
					d.nodeArgs = map[string][]string{}
				}
				d.nodeArgs[node] = args
			}
		}
		var kept []Episode
		for _, e := range d.eps {
			if !touches(e, m) {
				if t, ok := RemapTargets(e, m, spec); ok {
					e.Targets = t
				}
				kept = append(kept, e)
			}
		}
		d.eps = kept
		if !s.try(ctx, d, fmt.Sprintf("%d -> %d nodes, the %d episodes on removed nodes dropped", s.best.nodes, m, len(s.best.eps)-len(kept))) {
			return
		}
	}
}

// fewerClients tries 1, 2, a quarter and half the clients, fewest first.
func (s *shrinker) fewerClients(ctx context.Context) {
	n := s.best.concurrency
	for _, k := range distinctBelow(n, 1, 2, n/4, n/2) {
		if k < 1 {
			continue
		}
		c := s.best.clone()
		c.concurrency = k
		if s.try(ctx, c, fmt.Sprintf("%d -> %d clients", n, k)) {
			return
		}
	}
}

// otherRate tries a quarter and half the rate; when neither reproduces, a
// double rate with half the time limit (fewer operations on the whole
// only if the finding comes sooner). An unlimited rate (0) is tried at
// half the rate the last run reached.
func (s *shrinker) otherRate(ctx context.Context) {
	r := s.best.rate
	if r == 0 {
		if s.bestRes == nil || s.bestRes.Ops.PerSecond < 2 {
			return
		}
		c := s.best.clone()
		c.rate = math.Round(s.bestRes.Ops.PerSecond / 2)
		s.try(ctx, c, fmt.Sprintf("unlimited rate -> %g ops/s (half what the last run reached)", c.rate))
		return
	}
	for _, nr := range distinctBelow(r, math.Max(1, math.Round(r/4)), math.Max(1, math.Round(r/2))) {
		c := s.best.clone()
		c.rate = nr
		if s.try(ctx, c, fmt.Sprintf("rate %g -> %g ops/s", r, nr)) {
			return
		}
	}
	tl := max(s.minTimeLimit(), (s.best.timeLimit / 2).Truncate(time.Second))
	if tl >= s.best.timeLimit {
		return
	}
	c := s.best.clone()
	c.rate, c.timeLimit = 2*r, tl
	s.try(ctx, c, fmt.Sprintf("rate %g -> %g ops/s with time limit %s -> %s", r, 2*r, s.best.timeLimit, tl))
}

// fewerKeys tries fewer keys (register, append) or accounts (bank): the
// least the workload takes, then half.
func (s *shrinker) fewerKeys(ctx context.Context) {
	if k := s.best.keys; k > 1 {
		for _, nk := range distinctBelow(k, 1, k/2) {
			if nk < 1 {
				continue
			}
			c := s.best.clone()
			c.keys = nk
			if s.try(ctx, c, fmt.Sprintf("%d -> %d keys", k, nk)) {
				break
			}
		}
	}
	if a := s.best.accounts; a > 2 {
		for _, na := range distinctBelow(a, 2, a/2) {
			if na < 2 {
				continue
			}
			c := s.best.clone()
			c.accounts = na
			if s.try(ctx, c, fmt.Sprintf("%d -> %d accounts", a, na)) {
				break
			}
		}
	}
}
