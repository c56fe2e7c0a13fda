// Package node is dqtest's dqlite node: the Go form of the seed's Python
// Node, on go-dqlite v2 against C dqlite 1.18.1 or, built with the tag
// dqlite_v3, on go-dqlite v3 against 1.18.7. A Node starts a dqlite
// server (forming a cluster or joining one), runs SQL through the cluster
// leader, hands leadership over, changes membership, and stops in one of
// three modes: guarded (safe), bypass (skip the C stop) or unguarded (make
// the C calls exactly as asked, so dqlite's shutdown bugs can be reproduced).
//
// Every call that can block takes a context. A context without a deadline
// gets DefaultTimeout: go-dqlite retries leader discovery forever otherwise.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canonical/go-dqlite/v2/client"

	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/node/control"
	"github.com/dqtest/dqtest/node/dqclient"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = dqclient.DefaultTimeout

// DefaultStopTimeout bounds Stop and Close.
const DefaultStopTimeout = 30 * time.Second

// DefaultDB is the database statements use until OpenDB names another.
const DefaultDB = dqclient.DefaultDB

// BypassStopEnv, set to 1 (or true, yes), makes bypass the default stop mode,
// like the seed's DQLITEPY_BYPASS_STOP.
const BypassStopEnv = "DQTEST_BYPASS_STOP"

// infoFile in the data directory remembers the node's ID and address, so a
// restart (same process or a new one) uses the same ID and does not join
// again. dqlite ignores files it does not know.
const infoFile = "dqtest-node.json"

// StopMode says what Stop does with the C dqlite node (package mode
// documents the three; the harness and the scenario use the same type).
type StopMode = mode.Stop

const (
	// StopGuarded: Stop before Start is ErrNotRunning, a second Stop is a
	// no-op, dqlite_node_stop runs at most once per started node (after any
	// handover in flight has returned) and is bounded by the stop timeout.
	StopGuarded = mode.Guarded
	// StopBypass: Stop never calls dqlite_node_stop. The Node refuses
	// statements and closes its connections, but the C node keeps running
	// inside the process (it still takes part in raft) until the process
	// exits; a later Start attaches to it again. This avoids every shutdown
	// bug on purpose.
	StopBypass = mode.Bypass
	// StopUnguarded: Stop calls dqlite_node_stop every time it is called,
	// whatever the state: before Start it first creates the C node (as the
	// seed's constructor does) and stops it (canonical/dqlite#848: segfault);
	// a second Stop stops the same C node again (#737: assertion, SIGABRT).
	// Handover likewise calls dqlite_node_handover on any state. For
	// reproducing shutdown bugs on purpose: expect the process to die.
	StopUnguarded = mode.Unguarded
)

// ParseStopMode parses a stop mode name; "" is the default mode.
func ParseStopMode(s string) (StopMode, error) {
	if s == "" {
		return defaultStopMode(), nil
	}
	return mode.ParseStop(s)
}

func defaultStopMode() StopMode {
	switch strings.ToLower(os.Getenv(BypassStopEnv)) {
	case "1", "true", "yes":
		return StopBypass
	}
	return StopGuarded
}

// Options configure a Node. The zero value is a node that forms its own
// cluster with ID 1.
type Options struct {
	// BindAddress is where dqlite listens (numeric ip:port; a wildcard is
	// fine). Default: the node's address.
	BindAddress string
	// ID is the node's raft ID. Default: the ID remembered in the data
	// directory; else 1 when Cluster names no other node (ID 1 forms a new
	// cluster); else one derived from the address.
	ID uint64
	// Cluster lists addresses of cluster members (this node's own may be
	// among them). A node whose ID is not 1 joins the cluster through them
	// on its first Start.
	Cluster []string
	// StopMode is the mode of Stop and Close. Default: guarded, or bypass
	// when DQTEST_BYPASS_STOP=1.
	StopMode StopMode
	// StopTimeout bounds Stop and Close. Default DefaultStopTimeout.
	StopTimeout time.Duration
	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
	// Settings are the C node's settings (snapshot parameters, network
	// latency, ...); the zero value is dqlite's defaults. New refuses the
	// ones this build's dqlite does not support.
	Settings Settings
}

type lifecycle int

const (
	created  lifecycle = iota // never started
	running                   //
	stopping                  // a guarded C stop is still running after its timeout
	stopped                   //
	bypassed                  // stopped in bypass mode: the C node still runs
	closed                    //
)

// Node is one dqlite node. Its methods are safe for concurrent use, except
// that Begin/Commit/Rollback keep one transaction per Node (see Begin).
type Node struct {
	address, bindAddress, dataDir string
	id                            uint64
	peers                         []string // cluster addresses other than ours
	joined                        bool     // the data directory says we are a member
	mode                          StopMode
	stopTimeout                   time.Duration
	settings                      Settings
	log                           *slog.Logger

	life sync.Mutex // serializes Start, Stop, Close and C calls on cn

	mu        sync.Mutex // guards the fields below; never held across a network or C call
	state     lifecycle
	cn        *cnode        // the current C node, nil when none
	cnStopped bool          // dqlite_node_stop was called on cn
	stopDone  chan struct{} // closed when the running C stop returns
	handovers int           // C handovers in flight
	idle      chan struct{} // closed when handovers drops to 0
	store     client.NodeStore
	db        string
	client    *dqclient.Client // runs statements while running; closed at a stop
	txn       *txn
	held      []*dqclient.Tx // transactions HoldTxn left open
}

// New validates the configuration and returns a Node that is not running.
// It creates the data directory if needed; it starts nothing.
func New(address, dataDir string, opts Options) (*Node, error) {
	_, isIP, err := checkAddress("address", address)
	if err != nil {
		return nil, err
	}
	bind := opts.BindAddress
	if bind == "" {
		if !isIP {
			return nil, fmt.Errorf("address %q has a host name: set a bind address (numeric ip:port, dqlite binds only numeric addresses)", address)
		}
		bind = address
	}
	if err := checkBindAddress(bind); err != nil {
		return nil, err
	}
	if err := opts.Settings.check(); err != nil {
		return nil, err
	}
	dir, err := prepareDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	var peers []string
	for _, a := range opts.Cluster {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := checkAddress("cluster address", a); err != nil {
			return nil, err
		}
		if a != address && !slices.Contains(peers, a) {
			peers = append(peers, a)
		}
	}
	mode := opts.StopMode
	if mode == "" {
		mode = defaultStopMode()
	}
	if _, err := ParseStopMode(string(mode)); err != nil {
		return nil, err
	}
	n := &Node{
		address: address, bindAddress: bind, dataDir: dir, peers: peers,
		mode: mode, stopTimeout: opts.StopTimeout, settings: opts.Settings, log: opts.Logger,
		db: DefaultDB, idle: closedChan(),
	}
	if n.stopTimeout <= 0 {
		n.stopTimeout = DefaultStopTimeout
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = n.log.With("node", address)
	if err := n.chooseID(opts.ID); err != nil {
		return nil, err
	}
	return n, nil
}

// chooseID settles the node's ID from the option, the data directory's
// memory and the cluster list.
func (n *Node) chooseID(want uint64) error {
	info, err := readInfo(n.dataDir)
	if err != nil {
		return err
	}
	switch {
	case info != nil:
		if want != 0 && want != info.ID {
			return fmt.Errorf("id %d: data dir %s belongs to node id %d", want, n.dataDir, info.ID)
		}
		if info.Address != n.address {
			return fmt.Errorf("address %q: data dir %s belongs to a node with address %q (raft remembers addresses)", n.address, n.dataDir, info.Address)
		}
		n.id, n.joined = info.ID, true
	case want != 0:
		n.id = want
	case len(n.peers) == 0:
		n.id = 1
	default:
		n.id = generateID(n.address)
	}
	if !n.forms() && !n.joined && len(n.peers) == 0 {
		return fmt.Errorf("id %d: a node with an id other than 1 joins a cluster, and no cluster address other than its own was given", n.id)
	}
	return nil
}

// forms reports whether Start bootstraps a new cluster: dqlite does so for
// ID 1 (or its magic bootstrap ID) on an empty data directory.
func (n *Node) forms() bool { return n.id == 1 || n.id == bootstrapID }

// Address is the address other nodes and clients reach this node at.
func (n *Node) Address() string { return n.address }

// BindAddress is the address dqlite listens on.
func (n *Node) BindAddress() string { return n.bindAddress }

// DataDir is the node's data directory (absolute).
func (n *Node) DataDir() string { return n.dataDir }

// ID is the node's raft ID.
func (n *Node) ID() uint64 { return n.id }

// Mode is the node's stop mode.
func (n *Node) Mode() StopMode { return n.mode }

// IsRunning reports whether the node is started and not stopped.
func (n *Node) IsRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state == running
}

// Start starts the dqlite server. On its first start a node with ID 1 forms
// a cluster; another node joins through its cluster addresses as a voter,
// retrying until ctx's deadline. Start after Stop starts the node again on
// its data directory; it rejoins with its data.
func (n *Node) Start(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	n.life.Lock()
	defer n.life.Unlock()

	n.mu.Lock()
	state, cn := n.state, n.cn
	n.mu.Unlock()
	switch state {
	case closed:
		return ErrClosed
	case running:
		return ErrAlreadyRunning
	case stopping:
		return &StartError{Address: n.address, Err: errors.New("the previous stop is still running (it timed out); dqlite_node_stop has not returned")}
	case bypassed:
		n.log.Info("start: attaching to the C node left running by a bypass stop")
		n.setRunning(cn)
		return nil
	}
	if cn != nil {
		// Created but never started (an unguarded stop or handover before
		// start made it), or stopped by an unguarded stop: both may be
		// destroyed.
		cn.destroy()
		n.mu.Lock()
		n.cn, n.cnStopped = nil, false
		n.mu.Unlock()
	}
	n.log.Info("starting", append([]any{"id", n.id, "bind_address", n.bindAddress, "data_dir", n.dataDir, "dqlite_version", DqliteVersionString(), "stop_mode", string(n.mode)}, n.settings.logAttrs()...)...)
	if rf, err := readRaftFiles(n.dataDir); err == nil && (len(rf.Snapshots) > 0 || len(rf.Spans) > 0 || rf.Open > 0) {
		n.log.Info("raft files in the data directory", rf.logAttrs()...)
	}
	cn, err := newCNode(n.id, n.address, n.bindAddress, n.dataDir, n.settings)
	if err != nil {
		return &StartError{Address: n.address, Err: err}
	}
	if err := cn.start(); err != nil {
		cn.destroy()
		return &StartError{Address: n.address, Err: err}
	}
	if !n.joined && !n.forms() {
		if err := n.join(ctx); err != nil {
			n.log.Warn("join failed; stopping the C node", "err", err)
			if serr := cn.stop(); serr == nil {
				cn.destroy()
			}
			return &StartError{Address: n.address, Err: err}
		}
	}
	if !n.joined {
		if err := writeInfo(n.dataDir, nodeInfo{ID: n.id, Address: n.address}); err != nil {
			n.log.Warn("could not remember the node id in the data dir", "err", err)
		}
		n.joined = true
	}
	n.setRunning(cn)
	n.log.Info("started", "id", n.id)
	return nil
}

func (n *Node) setRunning(cn *cnode) {
	store := client.NewInmemNodeStore()
	_ = store.Set(context.Background(), []client.NodeInfo{{ID: n.id, Address: n.address, Role: client.Voter}})
	n.mu.Lock()
	n.cn, n.cnStopped = cn, false
	n.state = running
	n.store = store
	n.client = n.newClient()
	n.txn = nil
	held := n.takeHeld()
	n.mu.Unlock()
	closeAll(held)
}

// join adds this node to the cluster as a voter through the leader, found
// through the cluster addresses. It retries until ctx ends. A node already
// in the configuration (a join that succeeded before its info file was
// written) is made a voter if it is not one.
func (n *Node) join(ctx context.Context) error {
	store := client.NewInmemNodeStore()
	infos := make([]client.NodeInfo, len(n.peers))
	for i, a := range n.peers {
		infos[i] = client.NodeInfo{Address: a, Role: client.Voter}
	}
	if err := store.Set(ctx, infos); err != nil {
		return err
	}
	for {
		err := n.tryJoin(ctx, store)
		if err == nil {
			return nil
		}
		n.log.Debug("join attempt failed", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("join through %s: %w (last error: %v)", strings.Join(n.peers, ","), ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) tryJoin(ctx context.Context, store client.NodeStore) error {
	cli, err := client.FindLeader(ctx, store, client.WithLogFunc(n.clientLog))
	if err != nil {
		return err
	}
	defer cli.Close()
	members, err := cli.Cluster(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.ID != n.id {
			continue
		}
		if m.Address != n.address {
			return fmt.Errorf("the cluster has id %d at %q, not %q", n.id, m.Address, n.address)
		}
		if m.Role != client.Voter {
			return cli.Assign(ctx, n.id, client.Voter)
		}
		return nil
	}
	n.log.Info("joining the cluster", "id", n.id)
	return cli.Add(ctx, client.NodeInfo{ID: n.id, Address: n.address, Role: client.Voter})
}

func (n *Node) clientLog(level client.LogLevel, format string, args ...any) {
	n.log.Debug("go-dqlite: "+fmt.Sprintf(format, args...), "level", level.String())
}

// Stop stops the node in its stop mode (see StopMode). ctx and the stop
// timeout bound the wait.
func (n *Node) Stop(ctx context.Context) error { return n.StopWith(ctx, n.mode) }

// StopWith stops the node in the given mode ("" for the node's own).
func (n *Node) StopWith(ctx context.Context, mode StopMode) error {
	if mode == "" {
		mode = n.mode
	}
	if _, err := ParseStopMode(string(mode)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.stopTimeout)
	defer cancel()
	n.life.Lock()
	defer n.life.Unlock()
	switch mode {
	case StopUnguarded:
		return n.stopUnguarded(ctx)
	case StopBypass:
		return n.stopBypass()
	}
	return n.stopGuarded(ctx)
}

// detach makes the node refuse statements and closes its connections.
// Caller holds mu.
func (n *Node) detach() {
	if n.client != nil {
		n.client.Close()
	}
	if t := n.txn; t != nil {
		// The transaction's statement may be in flight: close its
		// connection once it returns; the C stop ends it anyway.
		go t.abandon()
	}
	n.txn = nil
}

func (n *Node) stopGuarded(ctx context.Context) error {
	n.mu.Lock()
	switch n.state {
	case created:
		n.mu.Unlock()
		return ErrNotRunning
	case stopped, bypassed, closed:
		n.mu.Unlock()
		return nil
	case stopping:
		done := n.stopDone
		n.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return &StopError{Address: n.address, Err: fmt.Errorf("the previous stop is still running: %w", ctx.Err())}
		}
	}
	n.state = stopping
	n.detach()
	cn, idle := n.cn, n.idle
	done := make(chan struct{})
	n.stopDone = done
	n.mu.Unlock()

	// A C stop racing a C handover is canonical/dqlite#855's trigger.
	select {
	case <-idle:
	case <-ctx.Done():
		n.finishStop(cn, nil, done, false)
		return &StopError{Address: n.address, Err: fmt.Errorf("waiting for a handover in flight: %w", ctx.Err())}
	}
	n.log.Info("stopping (guarded): dqlite_node_stop")
	result := make(chan error, 1)
	go func() {
		err := cn.stop()
		n.finishStop(cn, err, done, true)
		result <- err
	}()
	select {
	case err := <-result:
		if err != nil {
			return &StopError{Address: n.address, Err: err}
		}
		n.log.Info("stopped")
		return nil
	case <-ctx.Done():
		n.log.Warn("stop timed out; dqlite_node_stop still running", "timeout", n.stopTimeout)
		return &StopError{Address: n.address, Err: fmt.Errorf("dqlite_node_stop did not return: %w", ctx.Err())}
	}
}

// finishStop records the end of a guarded stop. With ran false the C stop
// never ran (we gave up waiting for a handover): the node stays running.
func (n *Node) finishStop(cn *cnode, err error, done chan struct{}, ran bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	defer close(done)
	if !ran {
		n.setRunningLocked()
		return
	}
	if err == nil {
		cn.destroy()
	}
	// After a failed stop the C thread has still ended; the node is leaked
	// rather than destroyed, as go-dqlite does.
	if n.cn == cn {
		n.cn, n.cnStopped = nil, false
	}
	if n.state == stopping {
		n.state = stopped
	}
}

func (n *Node) setRunningLocked() {
	n.state = running
	n.client = n.newClient()
}

// newClient is the client of a node that just started: leader discovery
// through this node's own server. Caller holds mu.
func (n *Node) newClient() *dqclient.Client {
	return dqclient.New(n.store, dqclient.Options{DB: n.db, Log: n.log})
}

func (n *Node) stopBypass() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch n.state {
	case created:
		return ErrNotRunning
	case running:
		n.detach()
		n.state = bypassed
		// The C node runs on: a held write transaction would block
		// every other writer for good.
		go closeAll(n.takeHeld())
		n.log.Info("stopped (bypass): dqlite_node_stop skipped; the C node keeps running in this process")
	}
	return nil
}

func (n *Node) stopUnguarded(ctx context.Context) error {
	n.mu.Lock()
	if n.state == closed {
		n.mu.Unlock()
		return ErrClosed
	}
	cn := n.cn
	n.detach()
	if n.state == running || n.state == bypassed {
		n.state = stopped
	}
	n.mu.Unlock()
	if cn == nil {
		n.log.Warn("unguarded stop with no C node: creating one to stop it (stop before start, canonical/dqlite#848)")
		var err error
		if cn, err = newCNode(n.id, n.address, n.bindAddress, n.dataDir, n.settings); err != nil {
			return &StopError{Address: n.address, Err: err}
		}
	}
	n.mu.Lock()
	again := n.cn == cn && n.cnStopped
	n.cn, n.cnStopped = cn, true
	n.mu.Unlock()
	if again {
		n.log.Warn("unguarded stop of a stopped C node: dqlite_node_stop again (canonical/dqlite#737)")
	}
	n.log.Info("stopping (unguarded): dqlite_node_stop")
	result := make(chan error, 1)
	go func() { result <- cn.stop() }()
	select {
	case err := <-result:
		if err != nil {
			return &StopError{Address: n.address, Err: err}
		}
		n.log.Info("stopped (unguarded)")
		return nil
	case <-ctx.Done():
		return &StopError{Address: n.address, Err: fmt.Errorf("dqlite_node_stop did not return: %w", ctx.Err())}
	}
}

// Close stops the node if it runs (in its stop mode, bounded by the stop
// timeout) and releases the C node. It is safe in any state, any number of
// times. In bypass mode the C node is left running until the process exits.
func (n *Node) Close() error {
	n.mu.Lock()
	state := n.state
	n.mu.Unlock()
	var err error
	if state == running {
		mode := n.mode
		if mode == StopUnguarded {
			// The node runs, so one C stop is what unguarded asks for too.
			mode = StopGuarded
		}
		err = n.StopWith(context.Background(), mode)
	}
	n.life.Lock()
	defer n.life.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == closed {
		return err
	}
	if n.cn != nil && n.state != bypassed && n.state != stopping && n.state != running {
		// Created but never started, or stopped by an unguarded stop.
		n.cn.destroy()
		n.cn = nil
	}
	n.detach()
	n.state = closed
	go closeAll(n.takeHeld())
	return err
}

// Handover asks dqlite to hand this node's responsibilities to others
// (dqlite_node_handover): leadership to another voter if this node leads,
// and its voter role to a non-voter if one can take it. On a node that does
// not lead and has no role to give away it does nothing; on a single-node
// cluster it returns nil promptly. The C call has no timeout; when ctx ends
// first Handover returns an IndeterminateError and the call goes on.
func (n *Node) Handover(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	n.mu.Lock()
	cn := n.cn
	if n.mode != StopUnguarded {
		switch {
		case n.state == closed:
			n.mu.Unlock()
			return ErrClosed
		case n.state != running:
			n.mu.Unlock()
			return ErrNotRunning
		}
	}
	if n.handovers == 0 {
		n.idle = make(chan struct{})
	}
	n.handovers++
	n.mu.Unlock()
	if cn == nil {
		// Unguarded only: handover before start (canonical/dqlite#848).
		n.log.Warn("unguarded handover with no C node: creating one to hand it over (handover before start, canonical/dqlite#848)")
		var err error
		n.life.Lock()
		cn, err = newCNode(n.id, n.address, n.bindAddress, n.dataDir, n.settings)
		if err == nil {
			n.mu.Lock()
			n.cn, n.cnStopped = cn, false
			n.mu.Unlock()
		}
		n.life.Unlock()
		if err != nil {
			n.handoverDone()
			return err
		}
	}
	n.log.Info("handover: dqlite_node_handover")
	result := make(chan error, 1)
	go func() {
		err := cn.handover()
		n.handoverDone()
		result <- err
	}()
	select {
	case err := <-result:
		if err == nil {
			n.log.Info("handover done")
			return nil
		}
		// dqlite reports failure whenever it finds no non-voter to take over
		// this node's voter role (roles.c, handoverVoterCb), which in a
		// cluster of voters only is always, also after a successful
		// leadership transfer. Judge by leadership instead.
		members, leader, verr := n.view(ctx)
		if verr != nil {
			return fmt.Errorf("handover: %w; then reading the cluster: %v", err, verr)
		}
		if leader == nil || leader.ID != n.id {
			n.log.Info("handover done: this node does not lead", "dqlite", err)
			return nil
		}
		for _, m := range members {
			if m.Role == RoleVoter && m.ID != n.id {
				return fmt.Errorf("handover: %w: this node still leads", err)
			}
		}
		n.log.Info("handover: no other voter; nothing to hand over")
		return nil
	case <-ctx.Done():
		return &IndeterminateError{Err: fmt.Errorf("handover still running: %w", ctx.Err())}
	}
}

func (n *Node) handoverDone() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.handovers--
	if n.handovers == 0 {
		close(n.idle)
	}
}

// Role names, as Status and the control API report them.
const (
	RoleVoter   = "voter"
	RoleStandby = "standby"
	RoleSpare   = "spare"
)

func roleName(r client.NodeRole) string {
	switch r {
	case client.Voter:
		return RoleVoter
	case client.StandBy:
		return RoleStandby
	case client.Spare:
		return RoleSpare
	}
	return ""
}

func parseRole(s string) (client.NodeRole, error) {
	switch s {
	case RoleVoter, "":
		return client.Voter, nil
	case RoleStandby:
		return client.StandBy, nil
	case RoleSpare:
		return client.Spare, nil
	}
	return 0, fmt.Errorf("role %q: want voter, standby or spare", s)
}

// Member is one node of the cluster configuration (role voter, standby or
// spare). Status is what a node knows about itself and its cluster: Role,
// the leader and Members are its own server's view, empty when the node is
// not running; ClusterError says why they are missing on a running node.
// Both are the control API's types.
type (
	Member = control.Member
	Status = control.Status
)

// Status reports the node's state and its server's view of the cluster.
func (n *Node) Status(ctx context.Context) Status {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	st := Status{
		ID: n.id, Address: n.address, BindAddress: n.bindAddress, Running: n.IsRunning(),
		StopMode: string(n.mode), DqliteVersion: DqliteVersionString(), Members: []Member{},
	}
	if !st.Running {
		return st
	}
	members, leader, err := n.view(ctx)
	if err != nil {
		st.ClusterError = err.Error()
		return st
	}
	st.Members = members
	if leader != nil {
		st.LeaderID, st.LeaderAddress = leader.ID, leader.Address
	}
	for _, m := range members {
		if m.ID == n.id {
			st.Role = m.Role
		}
	}
	return st
}

// view asks this node's own server for the configuration and the leader.
func (n *Node) view(ctx context.Context) ([]Member, *client.NodeInfo, error) {
	cli, err := client.New(ctx, n.address, client.WithLogFunc(n.clientLog))
	if err != nil {
		return nil, nil, err
	}
	defer cli.Close()
	infos, err := cli.Cluster(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	leader, err := cli.Leader(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("leader: %w", err)
	}
	members := make([]Member, len(infos))
	for i, m := range infos {
		members[i] = Member{ID: m.ID, Address: m.Address, Role: roleName(m.Role)}
	}
	if leader != nil && leader.ID == 0 && leader.Address == "" {
		leader = nil
	}
	return members, leader, nil
}

// viaLeader runs f with a client connected to the leader, found through
// this node's own server.
func (n *Node) viaLeader(ctx context.Context, f func(context.Context, *client.Client) error) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	n.mu.Lock()
	store, state := n.store, n.state
	n.mu.Unlock()
	if state != running {
		return ErrNotRunning
	}
	cli, err := client.FindLeader(ctx, store, client.WithLogFunc(n.clientLog))
	if err != nil {
		return &NoLeaderError{Err: err}
	}
	defer cli.Close()
	return f(ctx, cli)
}

// Transfer moves leadership to the voter toID (0: dqlite picks the most
// up-to-date voter), through the current leader.
func (n *Node) Transfer(ctx context.Context, toID uint64) error {
	return n.viaLeader(ctx, func(ctx context.Context, cli *client.Client) error {
		if err := cli.Transfer(ctx, toID); err != nil {
			return fmt.Errorf("transfer leadership to %d: %w", toID, err)
		}
		return nil
	})
}

// AddMember adds a node to the configuration with the member's role (voter
// when empty), or, if it is there already, assigns it that role.
func (n *Node) AddMember(ctx context.Context, m Member) error {
	role, err := parseRole(m.Role)
	if err != nil {
		return err
	}
	if m.ID == 0 {
		return errors.New("add member: id 0")
	}
	if _, _, err := checkAddress("member address", m.Address); err != nil {
		return err
	}
	return n.viaLeader(ctx, func(ctx context.Context, cli *client.Client) error {
		infos, err := cli.Cluster(ctx)
		if err != nil {
			return fmt.Errorf("add member: cluster: %w", err)
		}
		for _, info := range infos {
			if info.ID != m.ID {
				continue
			}
			if info.Role == role {
				return nil
			}
			if err := cli.Assign(ctx, m.ID, role); err != nil {
				return fmt.Errorf("assign %s to %d: %w", roleName(role), m.ID, err)
			}
			return nil
		}
		if err := cli.Add(ctx, client.NodeInfo{ID: m.ID, Address: m.Address, Role: role}); err != nil {
			return fmt.Errorf("add member %d at %s: %w", m.ID, m.Address, err)
		}
		return nil
	})
}

// RemoveMember removes the node id from the configuration.
func (n *Node) RemoveMember(ctx context.Context, id uint64) error {
	return n.viaLeader(ctx, func(ctx context.Context, cli *client.Client) error {
		if err := cli.Remove(ctx, id); err != nil {
			return fmt.Errorf("remove member %d: %w", id, err)
		}
		return nil
	})
}

// withDeadline gives ctx DefaultTimeout when it has no deadline.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return dqclient.WithDeadline(ctx)
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

type nodeInfo struct {
	ID      uint64 `json:"id"`
	Address string `json:"address"`
}

func readInfo(dir string) (*nodeInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %v", dir, err)
	}
	var info nodeInfo
	if err := json.Unmarshal(b, &info); err != nil || info.ID == 0 {
		return nil, fmt.Errorf("data dir %s: %s is not a node info file: %v", dir, infoFile, err)
	}
	return &info, nil
}

func writeInfo(dir string, info nodeInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, infoFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, infoFile))
}
