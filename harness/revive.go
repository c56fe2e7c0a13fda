package harness

import (
	"context"
	"errors"

	"github.com/dqtest/dqtest/history"
)

// Revive is the nemesis event of the harness bringing a node back for the
// final reads after healing: restarting a dead process, or starting a node
// that runs but is stopped.
const Revive = "revive"

// revive brings every node back after healing, so that the final reads go
// through every node and show whether a crash or a stop lost acknowledged
// writes: a node whose process died (a crash, or the harness's kill of a
// hung node) is restarted on its data directory, after its exit status is
// kept as evidence; a node that runs but is stopped (a stop fault whose
// undo failed, a node started with --no-start) is started. Nothing is done
// to a cluster whose nodes all run.
func (r *run) revive(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, r.stepTimeout()+r.sc.RecoveryTimeout/2)
	defer cancel()
	for _, n := range r.cluster.Nodes() {
		exit, err := r.cluster.Exit(rctx, n)
		if err != nil {
			r.log.Warn("revive: node exit status", "node", n, "error", err)
			continue
		}
		if !exit.Running {
			r.deadExits[n] = exit
			e := history.Event{Process: history.Nemesis, Type: history.Info, F: Revive, Nodes: []string{n},
				Value: map[string]any{"restart": true, "exit_code": exit.ExitCode, "signal": exit.Signal}}
			if err := r.cluster.Restart(rctx, n); err != nil {
				e.Error = err.Error()
			}
			r.log.Info("revive: restarted a dead node", "node", n, "exit_code", exit.ExitCode, "signal", exit.Signal, "error", e.Error)
			r.rec.write(e)
		}
		running, ok := r.nodeRunning(rctx, n)
		if !ok || running {
			continue
		}
		sctx, scancel := context.WithTimeout(rctx, r.stepTimeout())
		err = r.cluster.Start(sctx, n)
		scancel()
		if errors.Is(err, ErrAlreadyRunning) {
			continue // it was starting already (a restarted process starts itself)
		}
		e := history.Event{Process: history.Nemesis, Type: history.Info, F: Revive, Nodes: []string{n}, Value: map[string]any{"start": true}}
		if err != nil {
			e.Error = err.Error()
		}
		r.log.Info("revive: started a stopped node", "node", n, "error", e.Error)
		r.rec.write(e)
	}
}

// nodeRunning asks the node whether its Node runs, if the backend can (a
// StatusReader); ok is false when it cannot or the node does not answer.
func (r *run) nodeRunning(ctx context.Context, node string) (running, ok bool) {
	var c Cluster = r.cluster
	if r.watched != nil {
		c = r.watched.Cluster
	}
	sr, can := c.(StatusReader)
	if !can {
		return false, false
	}
	sctx, cancel := context.WithTimeout(ctx, r.sc.OpTimeout)
	defer cancel()
	running, err := sr.NodeRunning(sctx, node)
	if err != nil {
		r.log.Warn("revive: node status", "node", node, "error", err)
		return false, false
	}
	return running, true
}
