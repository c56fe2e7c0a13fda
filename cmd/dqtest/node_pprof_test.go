package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNodePprofServesProfilesAndStops(t *testing.T) {
	addr, stop, err := serveProfiles("127.0.0.1:0", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + addr + "/debug/pprof/cmdline")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, body, "the command line of this process")
	resp, err = cl.Get("http://" + addr + "/query")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "only profiles here, never the control API")
	stop()
	_, err = cl.Get("http://" + addr + "/debug/pprof/cmdline")
	require.Error(t, err, "stopped")

	_, _, err = serveProfiles("127.0.0.1:notaport", slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "--pprof")
}
