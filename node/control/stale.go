package control

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// StaleReads wraps n so that it answers queries from a stale copy: the
// first time a query (by its SQL and arguments) runs, its rows are kept, and
// for maxAge after that the same query gets those rows without reaching
// dqlite. Exec, Txn and everything else pass through.
//
// It is a self-test and nothing else: `dqtest node --self-test-stale-reads`
// turns it on so an end-to-end test can prove the checkers catch stale
// reads. A real run never uses it.
func StaleReads(n Node, maxAge time.Duration, log *slog.Logger) Node {
	if log == nil {
		log = slog.Default()
	}
	return &staleReads{Node: n, maxAge: maxAge, log: log, cache: map[string]cachedRows{}}
}

type staleReads struct {
	Node
	maxAge time.Duration
	log    *slog.Logger
	mu     sync.Mutex
	cache  map[string]cachedRows
}

type cachedRows struct {
	rows []map[string]any
	at   time.Time
}

func (s *staleReads) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	key := fmt.Sprintf("%s\x00%#v", sql, args)
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < s.maxAge {
		s.log.Debug("self-test: serving a stale read", "sql", sql, "age", now.Sub(c.at))
		return copyRows(c.rows), nil
	}
	rows, err := s.Node.Query(ctx, sql, args...)
	if err == nil {
		s.mu.Lock()
		s.cache[key] = cachedRows{rows: copyRows(rows), at: now}
		s.mu.Unlock()
	}
	return rows, err
}

func copyRows(rows []map[string]any) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = make(map[string]any, len(r))
		for k, v := range r {
			out[i][k] = v
		}
	}
	return out
}
