package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A --docker-host value is a DOCKER_HOST URL (it has "://") or the name of
// a Docker CLI context (`docker context create NAME --docker host=URL`),
// read from the CLI's own files, so an engine set up for the docker CLI is
// named the same way here.

// Endpoint is where an engine is reached: its URL and, for a context with
// TLS material, the directory holding ca.pem, cert.pem and key.pem.
type Endpoint struct {
	Host string
	// Context is the context's name, "" for a URL given as it is.
	Context string
	// CertPath is the TLS directory (DOCKER_CERT_PATH's form), "" for none.
	CertPath string
}

// IsURL says whether a --docker-host value is a URL, not a context name.
func IsURL(s string) bool { return strings.Contains(s, "://") }

// ResolveEndpoint turns a --docker-host value into an endpoint: a URL as
// it is, a context name through the docker CLI's context store
// (DOCKER_CONFIG, else ~/.docker: contexts/meta/<sha256 of the name>/meta.json
// and contexts/tls/<same>/docker/). "default" is the CLI's default
// context: DOCKER_HOST, else the default socket.
func ResolveEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	if IsURL(s) {
		return Endpoint{Host: s}, nil
	}
	if s == "" {
		return Endpoint{}, errors.New("docker host: empty (want a URL such as unix:///var/run/docker.sock or a docker context's name)")
	}
	if s == "default" {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		return Endpoint{Host: host, Context: s}, nil
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Endpoint{}, fmt.Errorf("docker context %q: no DOCKER_CONFIG and no home directory: %w", s, err)
		}
		dir = filepath.Join(home, ".docker")
	}
	sum := sha256.Sum256([]byte(s))
	id := hex.EncodeToString(sum[:])
	metaFile := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Endpoint{}, fmt.Errorf("docker context %q: not found in %s (`docker context ls` lists the contexts; a URL needs its scheme, e.g. tcp://%s:2375)",
			s, filepath.Join(dir, "contexts"), s)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %w", s, err)
	}
	var meta struct {
		Name      string
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %s: %w", s, metaFile, err)
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q: %s has no docker endpoint", s, metaFile)
	}
	out := Endpoint{Host: ep.Host, Context: s}
	tls := filepath.Join(dir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tls, "ca.pem")); err == nil {
		if ep.SkipTLSVerify {
			return Endpoint{}, fmt.Errorf("docker context %q: skip-tls-verify is not supported (dqtest verifies the engine's certificate)", s)
		}
		out.CertPath = tls
	}
	return out, nil
}

// Env is the environment a process needs to reach the endpoint the way
// testcontainers-go reads it: DOCKER_HOST, and with TLS DOCKER_CERT_PATH
// and DOCKER_TLS_VERIFY.
func (e Endpoint) Env() []string {
	env := []string{"DOCKER_HOST=" + e.Host}
	if e.CertPath != "" {
		env = append(env, "DOCKER_CERT_PATH="+e.CertPath, "DOCKER_TLS_VERIFY=1")
	}
	return env
}
