package workloads

import (
	"context"
	"fmt"
	"slices"

	"github.com/dqtest/dqtest/converge"
)

// StateQuery is one SQL query that reads a whole table of a workload's
// data, for comparing the replicas after a run (package converge). Its
// ORDER BY makes the result deterministic; Columns are the columns it
// selects, in the order a row is rendered (a Client returns rows as maps,
// which have no column order).
type StateQuery struct {
	Table   string   `json:"table"`
	SQL     string   `json:"sql"`
	Columns []string `json:"columns"`
}

// stateReader is what a workload implements to say which SQL reads its
// whole state. It is separate from Workload so that test doubles of
// Workload need not implement it.
type stateReader interface {
	StateQueries() []StateQuery
}

// StateQueries returns the queries that read w's whole state, one per
// table, or nil when w does not say (then there is nothing to compare).
func StateQueries(w Workload) []StateQuery {
	if s, ok := w.(stateReader); ok {
		return s.StateQueries()
	}
	return nil
}

func (w *register) StateQueries() []StateQuery {
	return []StateQuery{{Table: "registers", SQL: `SELECT k, v FROM registers ORDER BY k`, Columns: []string{"k", "v"}}}
}

func (w *bank) StateQueries() []StateQuery {
	return []StateQuery{{Table: "accounts", SQL: `SELECT id, balance FROM accounts ORDER BY id`, Columns: []string{"id", "balance"}}}
}

// The set table has no key but its rowid; the state is the multiset of
// values (a duplicate is two rows).
func (w *set) StateQueries() []StateQuery {
	return []StateQuery{{Table: "sets", SQL: `SELECT v FROM sets ORDER BY v`, Columns: []string{"v"}}}
}

// The append state includes each row's id: replicas apply the same pages,
// so even the ids must agree.
func (w *appendList) StateQueries() []StateQuery {
	return []StateQuery{{Table: "appends", SQL: `SELECT id, k, v FROM appends ORDER BY id`, Columns: []string{"id", "k", "v"}}}
}

// ReadState runs queries through c and renders node's state: each row with
// converge.Row in the query's column order, each table's rows sorted. A
// failed query, or a row without one of the query's columns, makes the
// whole state unreadable (State.Err names the table and the error): half a
// state compared with whole ones would report a divergence that is not
// there. ctx bounds every query.
func ReadState(ctx context.Context, c Client, node string, queries []StateQuery) converge.State {
	st := converge.State{Node: node, Tables: make(map[string][]string, len(queries))}
	for _, q := range queries {
		rows, err := c.Query(ctx, q.SQL)
		if err != nil {
			return converge.State{Node: node, Err: fmt.Sprintf("table %s: %v", q.Table, err)}
		}
		rendered := make([]string, 0, len(rows))
		vals := make([]any, len(q.Columns))
		for i, r := range rows {
			for j, col := range q.Columns {
				v, ok := r[col]
				if !ok {
					return converge.State{Node: node, Err: fmt.Sprintf("table %s: row %d has no column %q (row %v)", q.Table, i, col, r)}
				}
				vals[j] = v
			}
			rendered = append(rendered, converge.Row(q.Columns, vals))
		}
		slices.Sort(rendered)
		st.Tables[q.Table] = rendered
	}
	return st
}
