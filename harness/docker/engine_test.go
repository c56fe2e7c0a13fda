package docker

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
)

// Which --docker-host URLs dqtest accepts: a unix socket that exists here,
// TCP on any host (another machine's engine is reached through published
// ports), and never a socket that is missing (testcontainers-go would fall
// back to the default one), nor ssh:// (the Docker client cannot dial it).
func TestCheckHostAcceptsSocketsThatExistAndTCPAndRefusesSSH(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer l.Close()
	go func() { // a socket that hangs up on every connection: no engine
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	for _, ok := range []string{"unix://" + sock, "tcp://127.0.0.1:2375", "tcp://localhost:2376", "tcp://[::1]:2375",
		"https://127.0.0.2:2376", "tcp://192.0.2.1:2375", "tcp://docker.example:2375"} {
		require.NoError(t, CheckHost(ok), ok)
	}
	for host, want := range map[string]string{
		"unix:///nonexistent.sock": "would silently use the default socket instead",
		"unix://" + file:           "is not a socket",
		"ssh://user@192.0.2.1":     "ssh -NL /tmp/engine.sock:/var/run/docker.sock",
		"fd://3":                   `scheme "fd"`,
		"tcp://:2375":              "no host name",
		"/var/run/docker.sock":     "want a URL",
		"":                         "want a URL",
	} {
		require.ErrorContains(t, CheckHost(host), want, host)
	}

	// An engine named that does not answer is an error, not a fallback.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = EngineAt(ctx, "unix://"+sock)
	require.ErrorContains(t, err, "cannot be reached")
	_, err = EngineAt(ctx, "tcp://127.0.0.1:1")
	require.ErrorContains(t, err, "cannot be reached")
}

func TestEngineIdentityTellsTwoDaemonsWithOneIDApart(t *testing.T) {
	a := Engine{ID: "JEF3:BBRJ", Name: "vm", RootDir: "/var/lib/docker"}
	b := a
	b.RootDir = "/tmp/engine2/data"
	require.NotEqual(t, a.Identity(), b.Identity())
	b.Host = "unix:///tmp/engine2/docker.sock"
	require.Equal(t, "unix:///tmp/engine2/docker.sock (JEF3:BBRJ vm:/tmp/engine2/data)", b.String())
}

// The trap through `dqtest run`: DOCKER_HOST naming a socket that
// does not exist made testcontainers-go use the default engine. Start
// refuses, names the variable and creates nothing; DOCKER_HOST naming the
// engine reached is accepted (the check passes and the cluster comes up).
func TestStartRefusesAnEngineOtherThanTheOneDockerHostNames(t *testing.T) {
	requireDockerAndImage(t)
	ctx := ctxFor(t, 2*time.Minute)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
	runID := testRunID("wrong-host")
	_, err := (&Backend{}).Start(ctx, harness.ClusterSpec{RunID: runID, Nodes: 1})
	require.Error(t, err)
	require.Contains(t, err.Error(), "DOCKER_HOST")
	require.Contains(t, err.Error(), "nonexistent.sock")
	requireNoLeftovers(t, runID)

	sock := "/var/run/docker.sock"
	if _, err := os.Stat(sock); err != nil {
		t.Skipf("the default socket %s is not here: %v", sock, err)
	}
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	runID = testRunID("named-host")
	c, err := (&Backend{}).Start(ctx, harness.ClusterSpec{RunID: runID, Nodes: 1})
	require.NoError(t, err)
	require.NoError(t, c.Down(ctxFor(t, time.Minute)))
	requireNoLeftovers(t, runID)
}
