package sim

// This file is what a leader does with client requests, as dqlite does it:
// reads are served from the leader's database once a round of heartbeats
// has confirmed it still leads (a read index, so reads are linearizable);
// write transactions take the database's single write lock, run their
// statements one round trip at a time, and hold the lock until their log
// entry is committed and applied.

// attempt is one execution of a request at a leader. A request that is sent
// again (after a definite "not leader", or, with the duplicate-write bug,
// after an unknown outcome) gets a new attempt.
type attempt struct {
	req      *request
	at       *node // the node asked to execute it
	term     int64
	stage    int // statements executed
	buf      []effect
	results  []any
	proposed bool
	waitIdx  int64    // the log index whose commit completes it
	second   []effect // non-atomic-txn bug: the half proposed after the first commits
	round    uint64   // reads: the heartbeat round that must be acknowledged first
}

type outcomeKind uint8

const (
	outOK        outcomeKind = iota
	outFail                  // definite: did not happen
	outNotLeader             // definite, and safe to send again elsewhere
	outUnknown               // may or may not have happened
)

type outcome struct {
	kind  outcomeKind
	value any
	err   string
	hint  int // outNotLeader: the leader the answering node knows, or -1
}

func notLeader(hint int) outcome {
	return outcome{kind: outNotLeader, err: "not_leader: the node is not the leader", hint: hint}
}

func (n *node) ready() bool { return n.commit >= n.readyIdx }

// leaderReceive is a request's arrival at the node its origin believes
// leads.
func (c *cluster) leaderReceive(n *node, a *attempt) {
	a.at = n
	p := &a.req.prog
	if p.readOnly && c.bug == BugStaleRead && (n.role == leader || n.deposed) {
		c.reply(n, a, outcome{kind: outOK, value: c.read(n, p)})
		return
	}
	if n.role != leader {
		c.reply(n, a, notLeader(n.leader))
		return
	}
	a.term = n.term
	switch {
	case !n.ready():
		// A new leader serves nothing until its first entry commits: only
		// then does it know every entry committed before it.
		n.notReady = append(n.notReady, a)
	case p.readOnly:
		c.queueRead(n, a)
	default:
		n.lockQueue = append(n.lockQueue, a)
		c.pumpLock(n)
	}
}

// queueRead makes a read wait for the next heartbeat round, which a
// majority must acknowledge before the read is served.
func (c *cluster) queueRead(n *node, a *attempt) {
	a.round = n.round + 1
	n.reads = append(n.reads, a)
	if n.roundPending {
		return
	}
	n.roundPending = true
	term := n.term
	c.nodeAfter(n, 0, func() {
		if n.role != leader || n.term != term {
			return
		}
		n.roundPending = false
		n.round++
		n.ackRound[n.id] = n.round
		c.broadcastAppend(n, false)
		c.serveReads(n)
	})
}

// serveReads answers the reads whose round a majority has acknowledged.
func (c *cluster) serveReads(n *node) {
	if len(n.reads) == 0 {
		return
	}
	var rs [64]uint64
	k := 0
	for _, p := range c.nodes {
		if n.isVoter(p.id) {
			rs[k] = n.ackRound[p.id]
			k++
		}
	}
	if k == 0 {
		return
	}
	// The quorum-th largest acknowledged round is confirmed.
	for i := 1; i < k; i++ {
		for j := i; j > 0 && rs[j] > rs[j-1]; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	confirmed := rs[quorum(n.voters)-1]
	i := 0
	for i < len(n.reads) && n.reads[i].round <= confirmed {
		i++
	}
	if i == 0 {
		return
	}
	served := n.reads[:i]
	n.reads = n.reads[i:]
	for _, a := range served {
		c.reply(n, a, outcome{kind: outOK, value: c.read(n, &a.req.prog)})
	}
}

// read runs a read-only program against n's database. With the dirty-read
// bug it also sees the leader's uncommitted entries and the statements the
// lock holder has run so far.
func (c *cluster) read(n *node, p *program) any {
	v := view{s: n.db}
	if c.bug == BugDirtyRead && n.role == leader {
		for i := n.commit; i < n.lastIndex(); i++ {
			if e := n.entry(i + 1); e.kind == entryWrite {
				v.overlays = append(v.overlays, e.effects)
			}
		}
		if h := n.holder; h != nil && !h.proposed {
			v.overlays = append(v.overlays, h.buf)
		}
	}
	results := make([]any, len(p.stmts))
	for i, s := range p.stmts {
		results[i], _ = s.exec(v, nil, true)
	}
	return p.okValue(results)
}

// pumpLock hands the write lock to the next transaction.
func (c *cluster) pumpLock(n *node) {
	if n.holder != nil || len(n.lockQueue) == 0 || !n.ready() || n.transferTo >= 0 || n.role != leader {
		return
	}
	a := n.lockQueue[0]
	n.lockQueue[0] = nil
	n.lockQueue = n.lockQueue[1:]
	n.holder = a
	c.runStatement(n, a)
}

// runStatement runs the holder's next statement after one round trip from
// its origin: the client sends statements one at a time.
func (c *cluster) runStatement(n *node, a *attempt) {
	term := a.term
	c.nodeAfter(n, c.roundTrip(a.req.origin, n), func() {
		if n.role != leader || n.term != term || n.holder != a {
			return
		}
		p := &a.req.prog
		if o := a.req.origin; a.stage > 0 && o != n && (!o.running || !c.canReach(o, n)) {
			// The client's connection broke mid-transaction: its next
			// statement never comes, and the transaction rolls back.
			c.release(n, a, outcome{kind: outUnknown, err: "indeterminate: connection to the leader lost"})
			return
		}
		s := p.stmts[a.stage]
		res, failed := s.exec(view{s: n.db, overlays: [][]effect{a.buf}}, &a.buf, c.allowNegative)
		if failed != "" {
			// The statement failed and the transaction rolled back.
			c.release(n, a, outcome{kind: outFail, value: p.op.Value, err: failed})
			return
		}
		a.results = append(a.results, res)
		a.stage++
		if a.stage < len(p.stmts) {
			c.runStatement(n, a)
			return
		}
		effects := a.buf
		if len(effects) == 0 {
			c.release(n, a, outcome{kind: outOK, value: p.okValue(a.results)})
			return
		}
		if c.bug == BugNonAtomicTxn && len(effects) > 1 {
			h := len(effects) / 2
			effects, a.second = effects[:h], effects[h:]
		}
		c.propose(n, a, effects)
	})
}

func (c *cluster) propose(n *node, a *attempt, effects []effect) {
	n.entries = append(n.entries, entry{term: n.term, kind: entryWrite, effects: effects})
	n.match[n.id] = n.lastIndex()
	a.proposed = true
	a.waitIdx = n.lastIndex()
	c.broadcastAppend(n, false)
	c.advanceCommit(n)
}

// leaderCommitted runs after the leader's commit index moved.
func (c *cluster) leaderCommitted(n *node) {
	if n.ready() && len(n.notReady) > 0 {
		waiting := n.notReady
		n.notReady = nil
		for _, a := range waiting {
			if a.req.prog.readOnly {
				c.queueRead(n, a)
			} else {
				n.lockQueue = append(n.lockQueue, a)
			}
		}
	}
	if h := n.holder; h != nil && h.waitIdx > 0 && n.commit >= h.waitIdx {
		if h.second != nil {
			second := h.second
			h.second = nil
			c.propose(n, h, second)
		} else {
			c.release(n, h, outcome{kind: outOK, value: h.req.prog.okValue(h.results)})
		}
	}
	if !n.isVoter(n.id) && n.role == leader && n.commit >= n.lastConfigIndex() {
		// The leader removed itself: once that is committed it leaves.
		c.becomeFollower(n, n.term, -1)
		return
	}
	c.pumpLock(n)
}

func (n *node) lastConfigIndex() int64 {
	for i := n.lastIndex(); i > n.base; i-- {
		if n.entry(i).kind == entryConfig {
			return i
		}
	}
	return n.baseConfig
}

func (c *cluster) release(n *node, a *attempt, out outcome) {
	n.holder = nil
	c.reply(n, a, out)
	c.pumpLock(n)
}

// abandonLeadership answers everything a leader that steps down was doing:
// what it never proposed is a definite "not leader" (the origin may send it
// elsewhere), what it proposed has an unknown outcome (leadership lost
// during commit, dqlite's 10506). A node that dies (answer false) answers
// nothing: its connections break, which its peers notice themselves.
func (c *cluster) abandonLeadership(n *node, answer bool) {
	var pending []*attempt
	if h := n.holder; h != nil {
		pending = append(pending, h)
	}
	pending = append(pending, n.lockQueue...)
	pending = append(pending, n.reads...)
	pending = append(pending, n.notReady...)
	n.holder, n.lockQueue, n.reads, n.notReady = nil, nil, nil, nil
	n.transferTo = -1
	n.roundPending = false
	if !answer {
		return
	}
	for _, a := range pending {
		if a.proposed {
			c.reply(n, a, outcome{kind: outUnknown, err: "indeterminate: leadership lost during commit"})
		} else {
			c.reply(n, a, notLeader(-1))
		}
	}
}

// reply sends an outcome back to the request's origin.
func (c *cluster) reply(n *node, a *attempt, out outcome) {
	x := a.req.origin
	if x == n {
		// The origin is this process: answer asynchronously all the same,
		// so that no handler runs inside another.
		c.nodeAfter(n, 0, func() { c.originResult(x, a, out) })
		return
	}
	c.send(n, x, func() { c.originResult(x, a, out) })
}
