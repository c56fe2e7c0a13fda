package sim

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// This file is the Raft part of the model: terms, pre-vote and elections on
// randomized timeouts, a replicated log committed on a majority of voters,
// leader stickiness and check-quorum (a leader that cannot hear a majority
// for an election timeout steps down), leadership transfer, and single-server
// membership changes. It follows canonical/raft as dqlite configures it
// (election timeout 3 s, heartbeat 500 ms, pre-vote on).

type role uint8

const (
	follower role = iota
	candidate
	leader
)

func (r role) String() string {
	return [...]string{"follower", "candidate", "leader"}[r]
}

type entryKind uint8

const (
	entryNoop entryKind = iota // a new leader's first entry
	entryConfig
	entryWrite
)

// entry is one log entry. Entries are immutable once appended: messages
// carry views of a leader's log, and a log is never overwritten in place
// (truncation copies it).
type entry struct {
	term    int64
	kind    entryKind
	voters  uint64 // entryConfig: the new configuration, one bit per node
	effects []effect
}

func (n *node) lastIndex() int64 { return n.base + int64(len(n.entries)) }

func (n *node) termAt(i int64) int64 {
	if i <= 0 || i > n.lastIndex() {
		return 0
	}
	if i == n.base {
		return n.baseTerm
	}
	return n.entry(i).term
}

// entry is the log entry at index i, which must not be compacted away.
func (n *node) entry(i int64) *entry {
	if i <= n.base {
		// compactLogs only drops what no path reads again.
		panic(fmt.Sprintf("simulator: %s reads entry %d of its log, compacted up to %d", n.name, i, n.base))
	}
	return &n.entries[i-n.base-1]
}

// compactEvery is how many entries every node must have applied beyond
// the last compaction before the logs are compacted again.
var compactEvery int64 = 4096 // a variable for the tests

// compactLogs drops the log entries every node has applied, so that the
// simulator's memory follows the entries still in play, not the length of
// the run. What is dropped is never read again: a node only sends entries
// from a follower's commit on (the follower has every entry up to it, with
// the same terms), applies entries past its own applied index, and scans
// for config entries past its commit; the base's term, config index and
// voters stand in for the rest. Histories are unchanged (the pinned
// histories test). The lost-write bug rebuilds a database from the whole
// log and truncates committed entries: its logs are never compacted.
func (c *cluster) compactLogs() {
	if c.bug == BugLostWrite {
		return
	}
	upTo := int64(math.MaxInt64)
	for _, n := range c.nodes {
		upTo = min(upTo, n.applied, n.commit)
	}
	for _, n := range c.nodes {
		if upTo-n.base < compactEvery {
			return
		}
	}
	for _, n := range c.nodes {
		for i := n.base + 1; i <= upTo; i++ {
			if e := n.entry(i); e.kind == entryConfig {
				n.baseConfig, n.baseVoters = i, e.voters
			}
		}
		n.baseTerm = n.entry(upTo).term
		n.entries = slices.Clone(n.entries[upTo-n.base:])
		n.base = upTo
	}
}

func (n *node) isVoter(id int) bool { return n.voters&(1<<id) != 0 }

func quorum(voters uint64) int { return bits.OnesCount64(voters)/2 + 1 }

// electionTimeout is a fresh randomized timeout: [T, 2T), as canonical/raft.
func (c *cluster) electionTimeout() int64 {
	t := c.timing.election
	return t + c.rng.Int64N(t)
}

// resetElectionTimer pushes the node's election deadline out and makes sure
// a timer event is pending. One timer event per node at a time: when it
// fires early (the deadline moved), it re-arms itself, so heartbeats cost no
// timer events.
func (c *cluster) resetElectionTimer(n *node) {
	n.electionAt = c.sched.now + c.electionTimeout()
	c.armElectionTimer(n)
}

func (c *cluster) armElectionTimer(n *node) {
	if n.timerArmed {
		return
	}
	n.timerArmed = true
	inc := n.inc
	c.sched.at(n.electionAt, func() { c.onElectionTimer(n, inc) })
}

func (c *cluster) onElectionTimer(n *node, inc uint64) {
	if n.inc != inc {
		return // the node stopped since; a restart armed a new timer
	}
	n.timerArmed = false
	if !n.running {
		return
	}
	if n.paused {
		// The process is frozen: its timer fires when it thaws.
		n.deferred = append(n.deferred, func() { c.armElectionTimer(n) })
		return
	}
	if c.sched.now < n.electionAt {
		c.armElectionTimer(n)
		return
	}
	n.electionAt = c.sched.now + c.electionTimeout()
	c.armElectionTimer(n)
	if n.role == leader || !n.isVoter(n.id) {
		return // a removed node does not campaign
	}
	c.campaign(n, true, false)
}

// campaign starts a pre-vote (pre) or a real election. A transfer election
// (transfer) skips pre-vote and asks voters to ignore their current leader.
func (c *cluster) campaign(n *node, pre, transfer bool) {
	n.role = candidate
	c.setLeader(n, -1)
	n.preVote = pre
	n.votes = 1 << n.id
	term := n.term + 1
	if !pre {
		n.term++
		n.votedFor = n.id
		c.stats.Elections++
	}
	if bits.OnesCount64(n.votes&n.voters) >= quorum(n.voters) {
		c.wonVote(n)
		return
	}
	req := voteReq{term: term, from: n.id, lastIdx: n.lastIndex(), lastTerm: n.termAt(n.lastIndex()), pre: pre, transfer: transfer}
	for _, p := range c.nodes {
		if p != n && n.isVoter(p.id) {
			c.send(n, p, func() { c.onVoteReq(p, req) })
		}
	}
}

type voteReq struct {
	term              int64
	from              int
	lastIdx, lastTerm int64
	pre, transfer     bool
}

type voteResp struct {
	term, forTerm int64
	from          int
	granted, pre  bool
}

func (c *cluster) onVoteReq(n *node, req voteReq) {
	resp := voteResp{forTerm: req.term, from: n.id, pre: req.pre}
	upToDate := req.lastTerm > n.termAt(n.lastIndex()) ||
		(req.lastTerm == n.termAt(n.lastIndex()) && req.lastIdx >= n.lastIndex())
	// Leader stickiness: a voter that heard from a live leader within an
	// election timeout refuses to help depose it, unless the leader itself
	// asked for the election (a transfer).
	sticky := !req.transfer && (n.role == leader ||
		(n.leader >= 0 && c.sched.now-n.lastLeaderContact < c.timing.election))
	switch {
	case req.term < n.term || !n.isVoter(req.from) || sticky:
	case req.pre:
		resp.granted = upToDate
	default:
		if req.term > n.term {
			c.becomeFollower(n, req.term, -1)
		}
		if (n.votedFor < 0 || n.votedFor == req.from) && upToDate {
			n.votedFor = req.from
			resp.granted = true
			c.resetElectionTimer(n)
		}
	}
	resp.term = n.term
	cand := c.nodes[req.from]
	c.send(n, cand, func() { c.onVoteResp(cand, resp) })
}

func (c *cluster) onVoteResp(n *node, resp voteResp) {
	if resp.term > n.term && !resp.granted {
		c.becomeFollower(n, resp.term, -1)
		return
	}
	want := n.term
	if n.preVote {
		want = n.term + 1
	}
	if n.role != candidate || resp.pre != n.preVote || resp.forTerm != want || !resp.granted {
		return
	}
	n.votes |= 1 << resp.from
	if bits.OnesCount64(n.votes&n.voters) >= quorum(n.voters) {
		c.wonVote(n)
	}
}

func (c *cluster) wonVote(n *node) {
	if n.preVote {
		c.campaign(n, false, false)
		return
	}
	c.becomeLeader(n)
}

func (c *cluster) becomeLeader(n *node) {
	n.role = leader
	n.preVote = false
	n.ledTerm = n.term
	n.deposed = false
	n.leaderSince = c.sched.now
	n.transferTo = -1
	if c.bug == BugLostWrite {
		c.forgetTail(n)
	}
	last := n.lastIndex()
	for i := range c.nodes {
		n.next[i] = last + 1
		n.match[i] = 0
		n.ackRound[i] = 0
		n.lastAck[i] = c.sched.now
	}
	n.entries = append(n.entries, entry{term: n.term, kind: entryNoop})
	n.readyIdx = n.lastIndex()
	n.match[n.id] = n.lastIndex()
	c.logf(n, "INFO", "became leader", "term", n.term)
	c.stats.LeaderChanges++
	c.setLeader(n, n.id)
	c.broadcastAppend(n, false)
	c.advanceCommit(n) // a single voter commits alone
	term := n.term
	c.nodeAfter(n, c.timing.heartbeat, func() { c.leaderTick(n, term) })
}

// forgetTail is the lost-write bug: a new leader drops the newest entries of
// earlier terms, acknowledged ones included. It stops at a configuration
// entry so that membership stays sane.
func (c *cluster) forgetTail(n *node) {
	from := n.lastIndex() + 1
	for from > 1 && n.lastIndex()-from+1 < lostWriteEntries {
		e := n.entry(from - 1)
		if e.term >= n.term || e.kind == entryConfig {
			break
		}
		from--
	}
	if from <= n.lastIndex() {
		c.truncate(n, from)
	}
}

// lostWriteEntries is how many entries the lost-write bug drops.
const lostWriteEntries = 8

// leaderTick is the leader's heartbeat: every heartbeat interval it sends
// every follower what it has not acknowledged, checks that it still hears a
// majority (check-quorum), and gives up a transfer that takes too long.
func (c *cluster) leaderTick(n *node, term int64) {
	if n.role != leader || n.term != term {
		return
	}
	now := c.sched.now
	heard := 0
	for _, p := range c.nodes {
		if n.isVoter(p.id) && (p == n || now-n.lastAck[p.id] < c.timing.election) {
			heard++
		}
	}
	if heard < quorum(n.voters) && now-n.leaderSince >= c.timing.election {
		c.logf(n, "WARN", "lost contact with a majority, stepping down", "term", n.term)
		c.becomeFollower(n, n.term, -1)
		return
	}
	if n.transferTo >= 0 && now >= n.transferDeadline {
		n.transferTo = -1
		c.pumpLock(n)
	}
	c.broadcastAppend(n, true)
	c.nodeAfter(n, c.timing.heartbeat, func() { c.leaderTick(n, term) })
}

// becomeFollower makes n a follower of term (raising its term if needed)
// whose leader is leaderID (-1: unknown). A leader that steps down answers
// every request it was working on.
func (c *cluster) becomeFollower(n *node, term int64, leaderID int) {
	if term > n.term {
		n.term = term
		n.votedFor = -1
	}
	was := n.role
	n.role = follower
	n.preVote = false
	if was == leader {
		c.logf(n, "INFO", "stepped down", "term", n.term)
		c.abandonLeadership(n, true)
		if c.bug == BugStaleRead {
			n.deposed = true
		}
	}
	c.setLeader(n, leaderID)
	c.resetElectionTimer(n)
}

// setLeader records who n believes leads, and lets requests waiting at n
// for a leader go.
func (c *cluster) setLeader(n *node, id int) {
	if n.leader == id {
		return
	}
	n.leader = id
	if id >= 0 {
		c.routeWaiting(n)
	}
}

type appendReq struct {
	term             int64
	from             int
	prevIdx, prevTer int64
	entries          []entry
	commit           int64
	round            uint64
}

type appendResp struct {
	term  int64
	from  int
	ok    bool
	match int64 // ok: the follower's log matches up to here
	hint  int64 // !ok: where the leader should retry from
	round uint64
}

func (c *cluster) broadcastAppend(n *node, heartbeat bool) {
	for _, p := range c.nodes {
		if p != n && n.isVoter(p.id) {
			c.sendAppend(n, p, heartbeat)
		}
	}
}

// sendAppend sends p the entries from its next index on; a heartbeat sends
// everything p has not acknowledged, so entries lost in a partition are sent
// again.
func (c *cluster) sendAppend(n *node, p *node, heartbeat bool) {
	next := n.next[p.id]
	if heartbeat {
		next = n.match[p.id] + 1
	}
	if next < 1 {
		next = 1
	}
	last := n.lastIndex()
	if next > last+1 {
		next = last + 1
	}
	if next <= n.base {
		// The follower has every compacted entry (every node applied
		// them): it would skip them, and answers the same from the base.
		next = n.base + 1
	}
	req := appendReq{
		term: n.term, from: n.id,
		prevIdx: next - 1, prevTer: n.termAt(next - 1),
		entries: n.entries[next-n.base-1 : last-n.base : last-n.base],
		commit:  n.commit, round: n.round,
	}
	n.next[p.id] = last + 1
	c.send(n, p, func() { c.onAppend(p, req) })
}

func (c *cluster) onAppend(n *node, req appendReq) {
	resp := appendResp{from: n.id, round: req.round}
	defer func() {
		resp.term = n.term
		l := c.nodes[req.from]
		c.send(n, l, func() { c.onAppendResp(l, resp) })
	}()
	if req.term < n.term {
		return
	}
	if req.term > n.term || n.role != follower {
		c.becomeFollower(n, req.term, req.from)
	}
	if n.deposed && req.term > n.ledTerm {
		n.deposed = false
	}
	n.lastLeaderContact = c.sched.now
	c.setLeader(n, req.from)
	c.resetElectionTimer(n)

	if req.prevIdx > n.lastIndex() {
		resp.hint = n.lastIndex() + 1
		return
	}
	// A request sent before the logs were compacted may start below the
	// base: those entries are committed, the same everywhere, and would
	// be skipped one by one; skip them at once.
	idx, entries := req.prevIdx, req.entries
	if skip := n.base - req.prevIdx; skip > 0 {
		skip = min(skip, int64(len(entries)))
		idx, entries = idx+skip, entries[skip:]
	} else if t := n.termAt(req.prevIdx); t != req.prevTer {
		// Skip back over the whole conflicting term in one round trip
		// (down to the base at most: the leader sends from there anyway).
		hint := req.prevIdx
		for hint > 1 && hint-1 >= n.base && n.termAt(hint-1) == t {
			hint--
		}
		resp.hint = hint
		return
	}
	for i, e := range entries {
		idx++
		if idx <= n.lastIndex() {
			if n.termAt(idx) == e.term {
				continue
			}
			if !c.truncate(n, idx) {
				return
			}
		}
		for _, a := range entries[i:] {
			n.entries = append(n.entries, a)
			if a.kind == entryConfig {
				n.voters = a.voters
			}
		}
		break
	}
	resp.ok = true
	resp.match = req.prevIdx + int64(len(req.entries))
	if req.commit > n.commit {
		n.commit = min(req.commit, resp.match)
		c.applyCommitted(n)
	}
}

// truncate drops n's entries from index from on. Dropping a committed entry
// is what Raft exists to prevent: the bug-free model stops the run with an
// error; the lost-write bug does it on purpose, and the node rebuilds its
// database from the log it keeps.
func (c *cluster) truncate(n *node, from int64) bool {
	if from <= n.commit {
		if c.bug != BugLostWrite {
			c.fail(fmt.Errorf("model invariant broken: %s truncates committed entry %d (commit %d)", n.name, from, n.commit))
			return false
		}
		n.commit = from - 1
		n.db = newStore(c.balances)
		for _, e := range n.entries[:from-n.base-1] { // never compacted (lost-write)
			if e.kind == entryWrite {
				n.db.apply(e.effects)
			}
		}
		n.applied = n.commit
		c.stats.CommittedEntriesLost += int(n.lastIndex() - from + 1)
	}
	n.entries = slices.Clone(n.entries[:from-n.base-1])
	n.voters = n.baseVoters
	for i := len(n.entries) - 1; i >= 0; i-- {
		if n.entries[i].kind == entryConfig {
			n.voters = n.entries[i].voters
			break
		}
	}
	return true
}

func (c *cluster) onAppendResp(n *node, resp appendResp) {
	if resp.term > n.term {
		c.becomeFollower(n, resp.term, -1)
		return
	}
	if n.role != leader || resp.term != n.term {
		return
	}
	f := resp.from
	n.lastAck[f] = c.sched.now
	if resp.round > n.ackRound[f] {
		n.ackRound[f] = resp.round
	}
	if !resp.ok {
		n.next[f] = max(n.match[f]+1, min(resp.hint, n.lastIndex()+1))
		c.sendAppend(n, c.nodes[f], false)
		return
	}
	if resp.match > n.match[f] {
		n.match[f] = resp.match
	}
	if n.next[f] <= n.match[f] {
		n.next[f] = n.match[f] + 1
	}
	if n.transferTo == f && n.match[f] == n.lastIndex() {
		c.sendTimeoutNow(n, c.nodes[f])
	}
	c.advanceCommit(n)
	c.serveReads(n)
}

// advanceCommit commits the newest entry of the leader's term that a
// majority of voters stores.
func (c *cluster) advanceCommit(n *node) {
	var ms [64]int64
	k := 0
	for _, p := range c.nodes {
		if !n.isVoter(p.id) {
			continue
		}
		if p == n {
			ms[k] = n.lastIndex()
		} else {
			ms[k] = n.match[p.id]
		}
		k++
	}
	if k == 0 {
		return
	}
	slices.SortFunc(ms[:k], func(a, b int64) int { return int(b - a) })
	idx := ms[quorum(n.voters)-1]
	if idx <= n.commit || n.termAt(idx) != n.term {
		return
	}
	n.commit = idx
	c.applyCommitted(n)
	c.leaderCommitted(n)
}

func (c *cluster) applyCommitted(n *node) {
	for n.applied < n.commit {
		n.applied++
		if e := n.entry(n.applied); e.kind == entryWrite {
			c.applyWrite(n, e.effects)
		}
	}
	c.compactLogs()
}

// applyWrite applies a committed write entry to n's database. With the
// diverge bug, the last node holds back each write that changes its data
// until the next write entry comes, then applies the held one first: its
// applied index moves on as everyone's does, but the newest such write is
// missing from its copy, and after the run's last write it stays missing
// (a skipped entry that the convergence check must find).
func (c *cluster) applyWrite(n *node, effects []effect) {
	if c.bug == BugDiverge && n.id == len(c.nodes)-1 {
		switch {
		case !n.db.changesAfter(n.held, effects):
			// Nothing new after the held write: hold this one behind it
			// (applying it first would be out of order).
			if n.held != nil {
				n.held = append(slices.Clip(n.held), effects...)
				return
			}
		default:
			n.db.apply(n.held)
			n.held = effects
			return
		}
	}
	n.db.apply(effects)
}

// changeConfig appends a configuration entry at leader n. One change at a
// time, as Raft's single-server changes require.
func (c *cluster) changeConfig(n *node, voters uint64) error {
	for i := n.lastIndex(); i > n.commit; i-- {
		if n.entry(i).kind == entryConfig {
			return fmt.Errorf("a membership change is still in progress")
		}
	}
	n.entries = append(n.entries, entry{term: n.term, kind: entryConfig, voters: voters})
	n.voters = voters
	n.match[n.id] = n.lastIndex()
	c.broadcastAppend(n, false)
	c.advanceCommit(n)
	return nil
}

func (c *cluster) sendTimeoutNow(n *node, p *node) {
	term := n.term
	c.send(n, p, func() {
		if p.term == term && p.role != leader && p.isVoter(p.id) {
			c.campaign(p, false, true)
		}
	})
}
