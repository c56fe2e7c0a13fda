package report

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// randomHistory is a history of n client operations by procs processes
// (some never completed, some processes invoking again while open, as a
// history Validate rejects still may), with faults and, for bank, reads
// and transfers.
func randomHistory(rng *rand.Rand, n, procs int, bank bool) []history.Event {
	var out []history.Event
	var now int64
	emit := func(e history.Event) {
		now += 1 + rng.Int63n(2_000_000)
		e.Index, e.Time = int64(len(out)), now
		out = append(out, e)
	}
	open := map[int]history.Event{}
	outcomes := []history.Type{history.OK, history.OK, history.OK, history.Fail, history.Info}
	faults := []string{"partition", "kill", "handover"}
	for len(out) < 2*n {
		if rng.Intn(500) == 0 {
			f := faults[rng.Intn(len(faults))]
			pre := "start-"
			if rng.Intn(2) == 0 && f != "handover" {
				pre = "stop-"
			}
			e := history.Event{Process: history.Nemesis, Type: history.Info, F: pre + f, Nodes: []string{"n1"}}
			if rng.Intn(10) == 0 {
				e.Error = "refused"
			}
			emit(e)
		}
		p := rng.Intn(procs)
		if inv, ok := open[p]; ok && rng.Intn(50) != 0 {
			c := inv
			c.Type = outcomes[rng.Intn(len(outcomes))]
			emit(c)
			delete(open, p)
			continue
		}
		f := []string{"read", "write", "cas"}[rng.Intn(3)]
		if bank {
			f = []string{"read", "transfer", "transfer"}[rng.Intn(3)]
		}
		inv := history.Event{Process: history.Process(p), Type: history.Invoke, F: f, Key: "k", Node: "n2"}
		emit(inv)
		open[p] = out[len(out)-1]
	}
	return out
}

// The report read as a stream shows what it showed with the whole history
// in memory: the same operation count, latency table, drawn (sampled)
// operations, fault windows and events, and the same transfers beside each
// bank read.
func TestDigestIsTheReportOfTheWholeHistory(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, c := range []struct {
		name     string
		n, procs int
		bank     bool
	}{
		{"small", 500, 8, false}, {"longer than maxPoints", 3*maxPoints + 123, 64, false},
		{"bank", 4000, 40, true}, {"empty", 0, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			events := randomHistory(rng, c.n, c.procs, c.bank)
			anomalous := map[int64]bool{}
			var anomalies []checker.Anomaly
			for i := 0; i < len(events); i += 1 + rng.Intn(len(events)/20+1) {
				anomalous[events[i].Index] = true
				if c.bank && events[i].F == "read" && events[i].Type != history.Invoke {
					// The read's invoke and completion, as the bank
					// checker names them.
					for j := i - 1; j >= 0; j-- {
						if events[j].Process == events[i].Process && events[j].Type == history.Invoke {
							anomalies = append(anomalies, checker.Anomaly{Kind: "wrong-total", Ops: []history.Event{events[j], events[i]}})
							break
						}
					}
				}
			}
			var reads []readWindow
			for _, a := range anomalies {
				rw, ok := readWindowOf(a)
				require.True(t, ok)
				reads = append(reads, rw)
			}
			d := digestHistory(history.SliceSource(events), anomalous, reads)

			all := spans(events, anomalous)
			require.Equal(t, len(all), d.ops)
			require.Equal(t, latencyQuantiles(all), d.latencies.rows())
			drawn, k := thin(all)
			require.Equal(t, k, d.thinned)
			require.Equal(t, len(drawn), len(d.drawn))
			require.Equal(t, drawn, d.drawn)
			require.Equal(t, faultWindows(events), faultWindowsUntil(d.nemesis, d.end))
			var nemesis []history.Event
			for _, e := range events {
				if !e.IsClient() {
					nemesis = append(nemesis, e)
				}
			}
			require.Equal(t, nemesis, d.nemesis)
			views := anomalyViews("bank", anomalies, events)
			capped := 0
			for i := range anomalies {
				if strings.Contains(views[i].OverlapNote, "listed are those invoked closest") {
					capped++
				}
				ov, note := d.counts[i].result(reads[i])
				require.Equal(t, views[i].Overlapping, ov, "anomaly %d", i)
				require.Equal(t, views[i].OverlapNote, note)
			}
			if c.bank {
				require.NotEmpty(t, anomalies)
				require.Positive(t, capped, "some read overlapped more transfers than are listed")
			}
			if c.n > maxPoints {
				require.Greater(t, d.thinned, 1)
			}
		})
	}
}
