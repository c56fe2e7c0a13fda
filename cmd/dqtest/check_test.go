package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCheck runs `dqtest check args...` and returns its exit code, stdout
// and the error message the CLI would print.
func runCheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"check"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitValid, out.String(), ""
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "unexpected error %v", err)
	msg := ""
	if ee.err != nil {
		msg = ee.err.Error()
	}
	return ee.code, out.String(), msg
}

func TestCheckCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`+"\n{oops\n"), 0o644))

	code, out, _ := runCheck(t, "../../checker/testdata/jepsen_etcd_002.jsonl")
	require.Equal(t, exitValid, code)
	require.Contains(t, out, "VALID")

	code, out, _ = runCheck(t, "../../checker/testdata/jepsen_etcd_000.jsonl", "--out", dir)
	require.Equal(t, exitInvalid, code)
	require.Contains(t, out, "nonlinearizable (key r)")
	require.FileExists(t, filepath.Join(dir, "linearizability.html"))

	code, out, _ = runCheck(t, "../../checker/testdata/jepsen_etcd_002.jsonl", "--time-budget", "1ns", "--json")
	require.Equal(t, exitUnknown, code)
	require.Contains(t, out, `"verdict": "unknown"`)

	code, _, msg := runCheck(t, bad)
	require.Equal(t, exitUnknown, code)
	require.Contains(t, msg, "line 2: not a JSON event")

	code, _, msg = runCheck(t, bad, "--workload", "queue")
	require.Equal(t, exitUnknown, code)
	require.Contains(t, msg, `no checker for workload "queue"`)
}
