package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Engine is one Docker engine as `docker info` names it. Two daemons on
// one machine can share an ID (dockerd 20.10 keeps it in
// /etc/docker/key.json, not in its data root), so an engine is its ID,
// host name and data root together.
type Engine struct {
	// Host is the URL it was reached at (DOCKER_HOST's form).
	Host    string `json:"host,omitempty"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	RootDir string `json:"root_dir"`
	Version string `json:"version,omitempty"`
}

// Identity is what tells engines apart: "ID name:root dir".
func (e Engine) Identity() string { return e.ID + " " + e.Name + ":" + e.RootDir }

func (e Engine) String() string {
	s := e.Identity()
	if e.Host != "" {
		s = e.Host + " (" + s + ")"
	}
	return s
}

// EngineAt reaches the engine at host (a DOCKER_HOST URL:
// unix:///path/docker.sock, tcp://127.0.0.1:2375) directly, without
// testcontainers-go's discovery, which falls back to the default socket
// when the one named does not exist. An engine that cannot be reached is an
// error, and so is one whose containers' bridge addresses this machine
// cannot reach (CheckLocalHost).
func EngineAt(ctx context.Context, host string) (Engine, error) {
	if err := CheckLocalHost(host); err != nil {
		return Engine{}, err
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return Engine{}, fmt.Errorf("docker engine %s: %w", host, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Engine{}, fmt.Errorf("docker engine %s: cannot be reached: %w", host, err)
	}
	return Engine{Host: host, ID: info.Info.ID, Name: info.Info.Name, RootDir: info.Info.DockerRootDir,
		Version: info.Info.ServerVersion}, nil
}

// CheckLocalHost accepts the engines whose containers dqtest can reach
// from this machine: a unix socket that exists (the engine runs here, its
// bridges are this machine's), or TCP on a loopback address. Any other
// host is refused: the harness talks to every node's control API (and, in
// the direct client mode, to the dqlite port) at the container's bridge
// address, which only the engine's own machine reaches, and dqtest does
// not yet publish those ports on the engine's host. Run dqtest on that
// machine instead (a shard per machine, merged: docs/matrix.md).
func CheckLocalHost(host string) error {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("docker host %q: want a URL such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375", host)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("docker host %s: %w (testcontainers-go would silently use the default socket instead; dqtest refuses)", host, err)
		}
		if st.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("docker host %s: %s is not a socket", host, path)
		}
		return nil
	case "tcp", "http", "https":
		h := u.Hostname()
		if ip := net.ParseIP(h); (ip != nil && ip.IsLoopback()) || strings.EqualFold(h, "localhost") {
			return nil
		}
		return fmt.Errorf("docker host %s: a remote engine: its containers' bridge addresses are not reachable from this machine and dqtest does not publish the control API's ports yet; run dqtest on that machine (e.g. one shard there, merged with `dqtest matrix merge`)", host)
	}
	return fmt.Errorf("docker host %s: scheme %q: want unix:// or tcp:// on loopback (ssh:// and remote engines: run dqtest on the engine's machine)", host, u.Scheme)
}

// Reached is the engine testcontainers-go reaches from this process (it
// reads DOCKER_HOST, its properties file and the default sockets once per
// process, and keeps the answer).
func Reached(ctx context.Context) (Engine, error) {
	docker, err := dockerClient(ctx)
	if err != nil {
		return Engine{}, err
	}
	defer docker.Close()
	return engineOf(ctx, docker)
}

func engineOf(ctx context.Context, docker client.APIClient) (Engine, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	info, err := docker.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Engine{}, fmt.Errorf("docker info: %w", err)
	}
	return Engine{Host: os.Getenv("DOCKER_HOST"), ID: info.Info.ID, Name: info.Info.Name, RootDir: info.Info.DockerRootDir,
		Version: info.Info.ServerVersion}, nil
}

// ErrWrongEngine is returned (wrapped) when the engine reached is not the
// one this process was told to use.
var ErrWrongEngine = errors.New("reached another Docker engine than the one named")

// checkEngine is nil when docker is want (by Identity), or an error naming
// both: never a silent run on another engine.
func checkEngine(ctx context.Context, docker client.APIClient, want *Engine) error {
	if want == nil {
		return nil
	}
	got, err := engineOf(ctx, docker)
	if err != nil {
		return fmt.Errorf("docker backend: checking the engine: %w", err)
	}
	if got.Identity() != want.Identity() {
		return fmt.Errorf("docker backend: %w: want %s, reached %s (DOCKER_HOST=%q); refusing to run there",
			ErrWrongEngine, want, got.Identity(), os.Getenv("DOCKER_HOST"))
	}
	return nil
}

// CheckReached is nil when the engine testcontainers-go reaches from this
// process is want, else an error wrapping ErrWrongEngine.
func CheckReached(ctx context.Context, want Engine) error {
	docker, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	return checkEngine(ctx, docker, &want)
}
