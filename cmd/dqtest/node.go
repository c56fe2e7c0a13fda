package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/node"
	"github.com/dqtest/dqtest/node/control"
)

func init() {
	subcommands = append(subcommands, newNodeCommand)
}

type nodeFlags struct {
	address, bindAddress, dataDir, cluster, control, stopMode, pprof string
	id                                                               uint64
	startTimeout, stopTimeout, staleReads                            time.Duration
	noStart, panicOnStop, controlAll                                 bool
	// dqlite settings (node.Settings)
	snapshotThreshold, snapshotTrailing, failureDomain uint64
	networkLatency                                     time.Duration
	diskMode, autoRecovery                             bool
}

func newNodeCommand() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run one dqlite node and its HTTP/JSON control API (the node image's entry point)",
		Long: `Run one dqlite node and its control API (docs/control-api.md).

The node starts at once: with id 1 it forms a cluster, with another id it
joins through --cluster. The process outlives a stop through the API, so
stop/start cycles exercise dqlite's real stop path; SIGTERM or SIGINT stops
the node in its stop mode and exits. Logs go to stderr. A crash in C dqlite
(an assertion, a segfault) ends the process with exit status 2 after the Go
runtime prints the fault ("SIGABRT: abort", "SIGSEGV: segmentation
violation", "signal arrived during cgo execution") below the C library's own
message; the harness's crash detector reads those lines.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runNode(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.address, "address", "", "address other nodes reach this node at, ip:port (required; not 0.0.0.0)")
	fl.StringVar(&f.bindAddress, "bind-address", "", "address dqlite listens on, ip:port (default: --address)")
	fl.StringVar(&f.dataDir, "data-dir", "/var/lib/dqtest", "data directory")
	fl.StringVar(&f.cluster, "cluster", "", "comma-separated addresses of cluster members to join through (may include this node's)")
	fl.StringVar(&f.control, "control", "", "address the control API listens on, ip:port (default: the host of --address, port 8080; the API has no authentication, so it listens on every interface only when asked: 0.0.0.0:8080, [::]:8080 or --control-all-interfaces)")
	fl.BoolVar(&f.controlAll, "control-all-interfaces", false, "the control API listens on every interface (port 8080, or --control's port)")
	fl.StringVar(&f.stopMode, "stop-mode", "", "guarded, bypass or unguarded (default guarded, or bypass when DQTEST_BYPASS_STOP=1)")
	fl.Uint64Var(&f.id, "id", 0, "raft node id (default: remembered in the data dir, else 1 without other cluster members, else derived from the address)")
	fl.DurationVar(&f.startTimeout, "start-timeout", time.Minute, "how long the first start may take (joining waits for the cluster)")
	fl.DurationVar(&f.stopTimeout, "stop-timeout", node.DefaultStopTimeout, "bound on a stop")
	fl.DurationVar(&f.staleReads, "self-test-stale-reads", 0, "TEST ONLY: answer each query from a cached copy up to this old, to prove checkers catch stale reads")
	fl.StringVar(&f.pprof, "pprof", "", "DEBUG: serve Go's profiles (net/http/pprof, /debug/pprof/) on this ip:port, e.g. to profile the node's CPU under load; off by default (it exposes the process's internals)")
	fl.BoolVar(&f.noStart, "no-start", false, "do not start the node: the control API comes up and the node stays never started until /start (stop or handover before start: canonical/dqlite#848)")
	fl.BoolVar(&f.panicOnStop, "self-test-panic-on-stop", false, "TEST ONLY: a stop request ends the process with a Go panic, to prove the crash detector catches one")
	fl.Uint64Var(&f.snapshotThreshold, "snapshot-threshold", 0, "raft log entries after which dqlite takes a snapshot (0: dqlite's default, 1024)")
	fl.Uint64Var(&f.snapshotTrailing, "snapshot-trailing", 0, "raft log entries a snapshot keeps behind it (0: dqlite's default, 8192)")
	fl.DurationVar(&f.networkLatency, "network-latency", 0, "average one-way network latency dqlite tunes its raft timeouts to, 1ms..1h (0: dqlite's default)")
	fl.Uint64Var(&f.failureDomain, "failure-domain", 0, "failure domain code of this node (0: unset)")
	fl.BoolVar(&f.diskMode, "disk-mode", false, "store databases on disk (experimental in dqlite 1.18.1; refused on 1.18.3 and later, which dropped it)")
	fl.BoolVar(&f.autoRecovery, "auto-recovery", true, "let dqlite delete corrupt snapshots and segments at start (dqlite's default); --auto-recovery=false fails the start instead")
	_ = cmd.MarkFlagRequired("address")
	return cmd
}

func runNode(ctx context.Context, f nodeFlags) error {
	log := slog.Default()
	mode, err := node.ParseStopMode(f.stopMode)
	if err != nil {
		return &exitError{code: exitUnknown, err: err}
	}
	var cluster []string
	if f.cluster != "" {
		cluster = strings.Split(f.cluster, ",")
	}
	n, err := node.New(f.address, f.dataDir, node.Options{
		BindAddress: f.bindAddress, ID: f.id, Cluster: cluster,
		StopMode: mode, StopTimeout: f.stopTimeout, Logger: log,
		Settings: node.Settings{
			SnapshotThreshold: f.snapshotThreshold, SnapshotTrailing: f.snapshotTrailing,
			NetworkLatency: f.networkLatency, FailureDomain: f.failureDomain,
			DiskMode: f.diskMode, NoAutoRecovery: !f.autoRecovery,
		},
	})
	if err != nil {
		return &exitError{code: exitUnknown, err: err}
	}
	log.Info("dqtest node", "version", version, "dqlite_version", node.DqliteVersionString(),
		"go_dqlite", node.GoDqliteVersion(), "id", n.ID(), "address", n.Address(), "bind_address", n.BindAddress(),
		"data_dir", n.DataDir(), "cluster", f.cluster, "stop_mode", string(n.Mode()), "control", f.control)

	api := n.Control()
	if f.staleReads > 0 {
		log.Warn("SELF-TEST: this node serves stale reads on purpose (--self-test-stale-reads); never use it for a real run", "max_age", f.staleReads)
		api = control.StaleReads(api, f.staleReads, log)
	}
	if f.panicOnStop {
		log.Warn("SELF-TEST: a stop request makes this node panic on purpose (--self-test-panic-on-stop); never use it for a real run")
		api = control.PanicOnStop(api)
	}
	listen, err := controlListenAddress(f.control, f.controlAll, f.address)
	if err != nil {
		_ = n.Close()
		return &exitError{code: exitUnknown, err: err}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		_ = n.Close()
		return &exitError{code: exitUnknown, err: fmt.Errorf("control API: %w (choose the address with --control ip:port)", err)}
	}
	if f.pprof != "" {
		_, stopProfiles, err := serveProfiles(f.pprof, log)
		if err != nil {
			_ = n.Close()
			return &exitError{code: exitUnknown, err: err}
		}
		defer stopProfiles()
	}
	srv := control.NewServer(api, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("control API listening", "address", ln.Addr().String())
	if ip, perr := netip.ParseAddrPort(ln.Addr().String()); perr == nil && ip.Addr().IsUnspecified() {
		log.Warn("the control API, which has no authentication, listens on every interface: anyone who reaches this machine can run SQL and stop the node", "address", ln.Addr().String())
	}

	if f.noStart {
		log.Warn("not starting the node (--no-start): it stays never started until a /start request")
	}
	go func() {
		if f.noStart {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, f.startTimeout)
		defer cancel()
		if err := n.Start(sctx); err != nil {
			// The process stays up: the control API reports the node as
			// stopped and can start it again.
			log.Error("start failed; the node stays stopped", "err", err)
			return
		}
		if err := n.OpenDB(sctx, node.DefaultDB); err != nil {
			log.Warn("opening the database", "err", err)
		}
	}()

	var result error
	select {
	case <-ctx.Done():
		log.Info("signal received: stopping", "stop_mode", string(n.Mode()))
	case err := <-served:
		log.Error("control API failed", "err", err)
		result = &exitError{code: exitUnknown, err: err}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if err := n.Close(); err != nil && !errors.Is(err, node.ErrNotRunning) {
		log.Error("stop failed", "err", err)
		if result == nil {
			result = &exitError{code: exitUnknown, err: err}
		}
	}
	log.Info("exiting")
	return result
}

// controlDefaultPort is the control API's port when --control gives none.
const controlDefaultPort = "8080"

// controlListenAddress is where the control API listens: --control when
// given, else the host of --address (the container's address in a run, a
// loopback address for a node started by hand on 127.0.0.1) with port
// 8080. allInterfaces (or an unspecified host in --control, 0.0.0.0 or
// [::] or none) means every interface.
func controlListenAddress(control string, allInterfaces bool, address string) (string, error) {
	port := controlDefaultPort
	host := ""
	if control != "" {
		h, p, err := net.SplitHostPort(control)
		if err != nil {
			return "", fmt.Errorf("--control %q: want ip:port, e.g. 127.0.0.1:8080: %v", control, err)
		}
		if p == "" {
			return "", fmt.Errorf("--control %q: no port", control)
		}
		host, port = h, p
		if allInterfaces && host != "" {
			if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
				return "", fmt.Errorf("--control-all-interfaces with --control %s: give one or the other", control)
			}
		}
		return net.JoinHostPort(host, port), nil
	}
	if allInterfaces {
		return net.JoinHostPort("", port), nil
	}
	h, _, err := net.SplitHostPort(address)
	if err != nil || h == "" {
		return "", fmt.Errorf("--address %q: want ip:port; the control API listens on its host unless --control says otherwise", address)
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.IsUnspecified() {
		return "", fmt.Errorf("--address %q: the address other nodes reach this node at cannot be unspecified", address)
	}
	return net.JoinHostPort(h, port), nil
}
