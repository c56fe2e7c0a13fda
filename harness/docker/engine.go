package docker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Engine is one Docker engine as `docker info` names it. Two daemons on
// one machine can share an ID (dockerd 20.10 keeps it in
// /etc/docker/key.json, not in its data root), so an engine is its ID,
// host name and data root together.
type Engine struct {
	// Host is the URL it was reached at (DOCKER_HOST's form).
	Host string `json:"host,omitempty"`
	// Context is the docker CLI context it was named by, if any, and
	// CertPath that context's TLS directory (dockercontext.go).
	Context  string `json:"context,omitempty"`
	CertPath string `json:"cert_path,omitempty"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	RootDir  string `json:"root_dir"`
	Version  string `json:"version,omitempty"`
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
// unix:///path/docker.sock, tcp://127.0.0.1:2375, tcp://HOST:2375) directly,
// without testcontainers-go's discovery, which falls back to the default
// socket when the one named does not exist. An engine that cannot be
// reached is an error, and so is a URL CheckHost refuses.
func EngineAt(ctx context.Context, host string) (Engine, error) {
	return EngineOf(ctx, Endpoint{Host: host})
}

// EngineFor is EngineAt for a --docker-host value: a URL, or a docker CLI
// context's name (ResolveEndpoint).
func EngineFor(ctx context.Context, hostOrContext string) (Engine, error) {
	ep, err := ResolveEndpoint(hostOrContext)
	if err != nil {
		return Engine{}, err
	}
	return EngineOf(ctx, ep)
}

// EngineOf reaches the engine at ep directly (EngineAt).
func EngineOf(ctx context.Context, ep Endpoint) (Engine, error) {
	host := ep.Host
	name := host
	if ep.Context != "" {
		name = fmt.Sprintf("%s (docker context %s)", host, ep.Context)
	}
	if err := CheckHost(host); err != nil {
		if ep.Context != "" {
			return Engine{}, fmt.Errorf("docker context %s: %w", ep.Context, err)
		}
		return Engine{}, err
	}
	// TLS settings: the context's, else DOCKER_TLS_VERIFY and
	// DOCKER_CERT_PATH as the docker CLI and testcontainers-go read them;
	// the host is the one named.
	tlsOpt := client.WithTLSClientConfigFromEnv()
	if ep.CertPath != "" {
		tlsOpt = client.WithTLSClientConfig(filepath.Join(ep.CertPath, "ca.pem"), filepath.Join(ep.CertPath, "cert.pem"), filepath.Join(ep.CertPath, "key.pem"))
	}
	cli, err := client.New(tlsOpt, client.WithHost(host))
	if err != nil {
		return Engine{}, fmt.Errorf("docker engine %s: %w", host, err)
	}
	defer cli.Close()
	e, err := engineOf(ctx, cli)
	if err != nil {
		return Engine{}, fmt.Errorf("docker engine %s: cannot be reached: %w", name, err)
	}
	e.Host, e.Context, e.CertPath = host, ep.Context, ep.CertPath
	return e, nil
}

// Endpoint is where e was reached.
func (e Engine) Endpoint() Endpoint {
	return Endpoint{Host: e.Host, Context: e.Context, CertPath: e.CertPath}
}

// SSHTunnelHint is how to use an engine that is reached over ssh: forward
// its socket and say where its published ports are.
const SSHTunnelHint = "forward the engine's socket instead: `ssh -NL /tmp/engine.sock:/var/run/docker.sock USER@HOST`, " +
	"then --docker-host unix:///tmp/engine.sock with TESTCONTAINERS_HOST_OVERRIDE=HOST (where the nodes' published ports are; --reach auto then reaches them there)"

// CheckHost accepts the engines dqtest can drive: a unix socket that
// exists (a missing one would make testcontainers-go silently use the
// default socket), and tcp:// (http://, https://) on any host. An engine
// on another machine is reached through published ports (Reach ports,
// reach.go), since its containers' bridge addresses are not reachable from
// here. ssh:// is refused: the Docker client dqtest uses (moby's, through
// testcontainers-go) cannot dial it without the docker CLI's connection
// helper (SSHTunnelHint says what to do instead).
func CheckHost(host string) error {
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("docker host %q: want a URL such as unix:///var/run/docker.sock or tcp://HOST:2375", host)
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
		if u.Hostname() == "" {
			return fmt.Errorf("docker host %s: no host name", host)
		}
		return nil
	case "ssh":
		return fmt.Errorf("docker host %s: ssh:// is not supported: the Docker client dqtest uses cannot dial ssh (the docker CLI does it with a connection helper dqtest does not have); %s", host, SSHTunnelHint)
	}
	return fmt.Errorf("docker host %s: scheme %q: want unix:// or tcp://", host, u.Scheme)
}

// IsRemote says whether the engine at host (a DOCKER_HOST URL) runs on
// another machine as dqtest sees it: a tcp:// URL of a host that is not a
// loopback address, or any engine when TESTCONTAINERS_HOST_OVERRIDE names a
// host that is not (the published ports are there).
func IsRemote(host string) bool {
	p, err := PublishedHost(host, os.Getenv(hostOverrideEnv))
	return err == nil && !p.Local
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

// namedEngines caches engineNamedByEnv's answer per DOCKER_HOST value (a
// matrix starts a cluster per cell).
var namedEngines sync.Map // DOCKER_HOST -> Engine

// engineNamedByEnv is the engine DOCKER_HOST names, reached directly
// (EngineAt), or nil when DOCKER_HOST is not set. testcontainers-go falls
// back to the default socket when DOCKER_HOST names one that does not
// exist, so `DOCKER_HOST=unix:///wrong.sock dqtest run` would run on
// another engine than the one named; Start compares the two and refuses.
func engineNamedByEnv(ctx context.Context) (*Engine, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return nil, nil
	}
	if e, ok := namedEngines.Load(host); ok {
		e := e.(Engine)
		return &e, nil
	}
	e, err := EngineAt(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("docker backend: DOCKER_HOST: %w", err)
	}
	namedEngines.Store(host, e)
	return &e, nil
}
