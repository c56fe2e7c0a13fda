package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readCrashSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "crash", name))
	require.NoError(t, err)
	return b
}

func TestDetectCrashesOnRecordedLogs(t *testing.T) {
	exited2 := NodeExit{Running: false, ExitCode: 2}
	tests := []struct {
		name      string
		log       string
		exit      NodeExit
		kind      string
		signal    string
		signature string
		count     int
		lineHas   string
	}{
		{"an assertion in C is a SIGABRT crash with the assertion text",
			"assertion.log", exited2, "assertion", "SIGABRT",
			"SIGABRT: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed.", 1, "Assertion `rv == 0' failed"},
		{"the same assertion after a restart counts twice under one signature",
			"assertion-twice.log", exited2, "assertion", "SIGABRT",
			"SIGABRT: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed.", 2, "dqlite_node_stop"},
		{"a segfault in cgo is named by its first frames outside the runtime",
			"segfault.log", exited2, "signal", "SIGSEGV",
			"SIGSEGV: segmentation violation at github.com/canonical/go-dqlite/v2/internal/bindings._Cfunc_dqlite_node_handover < github.com/canonical/go-dqlite/v2/internal/bindings.(*Node).Handover < main.main",
			1, "signal arrived during cgo execution"},
		{"a Go panic carries its message and frames",
			"go-panic.log", exited2, "go-panic", "",
			"panic: posix_allocate: interrupted system call at github.com/canonical/go-dqlite/v2/app.New < main.main", 1, "posix_allocate"},
		{"a nil dereference panic picks up the signal from its [signal] line",
			"nil-deref.log", exited2, "go-panic", "SIGSEGV",
			"panic: runtime error: invalid memory address or nil pointer dereference at main.main", 1, "nil pointer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crashes := DetectCrashes("n2", tt.exit, readCrashSample(t, tt.log), false)
			require.Len(t, crashes, 1)
			c := crashes[0]
			require.Equal(t, "n2", c.Node)
			require.Equal(t, tt.kind, c.Kind)
			require.Equal(t, tt.signal, c.Signal)
			require.Equal(t, tt.signature, c.Signature)
			require.Equal(t, tt.count, c.Count)
			require.Contains(t, strings.Join(c.Lines, "\n"), tt.lineHas)
			require.NotEmpty(t, c.Tail)
			require.LessOrEqual(t, len(c.Lines), crashExcerptLines)
			require.NotContains(t, c.Signature, "0x", "a signature must not depend on addresses")
		})
	}
}

func TestDetectCrashesFindsNothingInACleanLog(t *testing.T) {
	// clean.log mentions "panic" and "Assertion failed" inside ordinary
	// log lines; neither is a crash.
	require.Empty(t, DetectCrashes("n1", NodeExit{Running: true}, readCrashSample(t, "clean.log"), false))
}

func TestDetectCrashesFromExitStatus(t *testing.T) {
	clean := readCrashSample(t, "clean.log")
	tests := []struct {
		name      string
		exit      NodeExit
		killed    bool
		signature string // "" = no crash
	}{
		{"a running node is no crash", NodeExit{Running: true}, false, ""},
		{"a node killed by a signal nobody sent crashed", NodeExit{Signal: "SIGKILL", ExitCode: 137}, false, "killed by SIGKILL"},
		{"SIGKILL from the nemesis's kill fault is the fault working", NodeExit{Signal: "SIGKILL", ExitCode: 137}, true, ""},
		{"SIGABRT is a crash even when the nemesis killed the node earlier", NodeExit{Signal: "SIGABRT", ExitCode: 134}, true, "killed by SIGABRT"},
		{"a node process that exited with an error status crashed", NodeExit{ExitCode: 2}, false, "exited with status 2"},
		{"an OOM kill is a crash", NodeExit{ExitCode: 137, OOM: true}, false, "killed by the OOM killer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crashes := DetectCrashes("n3", tt.exit, clean, tt.killed)
			if tt.signature == "" {
				require.Empty(t, crashes)
				return
			}
			require.Len(t, crashes, 1)
			require.Equal(t, tt.signature, crashes[0].Signature)
			require.Equal(t, "n3", crashes[0].Node)
			require.NotEmpty(t, crashes[0].Tail)
		})
	}
}

func TestDetectCrashesReadsInlineReports(t *testing.T) {
	tests := []struct {
		name      string
		log       string
		signature string
	}{
		{"glibc 2.37+ quotes the assertion with a straight quote",
			"dqtest: src/vfs.c:1200: vfsMainFileClose: Assertion 'f->shm.refcount == 0' failed.\nSIGABRT: abort\nPC=0x7f m=0 sigcode=18446744073709551610\n",
			"SIGABRT: src/vfs.c:1200: vfsMainFileClose: Assertion 'f->shm.refcount == 0' failed."},
		{"a Go fatal error is a crash",
			"fatal error: concurrent map writes\n\ngoroutine 7 [running]:\ngithub.com/dqtest/dqtest/node/control.(*Server).exec(0xc000123456, {0x1, 0x2})\n\t/src/node/control/server.go:88 +0x1c\n",
			"fatal error: concurrent map writes at github.com/dqtest/dqtest/node/control.(*Server).exec"},
		{"a shell's segfault report is a SIGSEGV",
			"time=2026-11-24T15:42:58.101Z level=INFO msg=\"node started\"\n/bin/sh: line 1:    7 Segmentation fault      (core dumped) dqtest node\n",
			"Segmentation fault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crashes := DetectCrashes("n1", NodeExit{ExitCode: 2}, []byte(tt.log), false)
			require.Len(t, crashes, 1)
			require.Equal(t, tt.signature, crashes[0].Signature)
		})
	}
}
