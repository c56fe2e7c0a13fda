package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeContext writes a docker CLI context the way `docker context create`
// stores it.
func writeContext(t *testing.T, dir, name, host string, tls bool) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := filepath.Join(dir, "contexts", "meta", id)
	require.NoError(t, os.MkdirAll(meta, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(meta, "meta.json"),
		[]byte(`{"Name":"`+name+`","Metadata":{},"Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":false}}}`), 0o644))
	if tls {
		d := filepath.Join(dir, "contexts", "tls", id, "docker")
		require.NoError(t, os.MkdirAll(d, 0o755))
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			require.NoError(t, os.WriteFile(filepath.Join(d, f), []byte("x"), 0o600))
		}
	}
}

func TestDockerHostValuesAreURLsOrContextNames(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_HOST", "")
	writeContext(t, dir, "lab", "tcp://10.0.0.5:2375", false)
	writeContext(t, dir, "secure", "tcp://10.0.0.6:2376", true)
	writeContext(t, dir, "over-ssh", "ssh://me@10.0.0.7", false)

	ep, err := ResolveEndpoint("tcp://10.0.0.9:2375")
	require.NoError(t, err)
	require.Equal(t, Endpoint{Host: "tcp://10.0.0.9:2375"}, ep, "a URL is taken as it is")

	ep, err = ResolveEndpoint("lab")
	require.NoError(t, err)
	require.Equal(t, Endpoint{Host: "tcp://10.0.0.5:2375", Context: "lab"}, ep)
	require.Equal(t, []string{"DOCKER_HOST=tcp://10.0.0.5:2375"}, ep.Env())

	ep, err = ResolveEndpoint("secure")
	require.NoError(t, err)
	tls := filepath.Join(dir, "contexts", "tls")
	require.Equal(t, "tcp://10.0.0.6:2376", ep.Host)
	require.Contains(t, ep.CertPath, tls, "the context's TLS directory")
	require.Equal(t, []string{"DOCKER_HOST=tcp://10.0.0.6:2376", "DOCKER_CERT_PATH=" + ep.CertPath, "DOCKER_TLS_VERIFY=1"}, ep.Env())

	ep, err = ResolveEndpoint("default")
	require.NoError(t, err)
	require.Equal(t, "unix:///var/run/docker.sock", ep.Host, "the CLI's default context without DOCKER_HOST")

	_, err = ResolveEndpoint("nosuch")
	require.ErrorContains(t, err, `docker context "nosuch": not found in `+filepath.Join(dir, "contexts"))
	require.ErrorContains(t, err, "docker context ls")

	// An ssh context is read, and refused where every ssh:// URL is.
	_, err = EngineFor(t.Context(), "over-ssh")
	require.ErrorContains(t, err, "docker context over-ssh")
	require.ErrorContains(t, err, "ssh")

	// A context naming a socket that does not exist: refused before any
	// Docker call (testcontainers-go would fall back to the default one).
	writeContext(t, dir, "gone", "unix://"+filepath.Join(dir, "gone.sock"), false)
	_, err = EngineFor(t.Context(), "gone")
	require.ErrorContains(t, err, "docker context gone")
	require.ErrorContains(t, err, "gone.sock")
}

// A context naming this machine's engine reaches the same engine as its URL.
func TestADockerContextReachesTheEngineItNames(t *testing.T) {
	requireDockerAndImage(t)
	sock := "/var/run/docker.sock"
	if _, err := os.Stat(sock); err != nil {
		t.Skipf("no %s here: %v", sock, err)
	}
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	writeContext(t, dir, "here", "unix://"+sock, false)
	byURL, err := EngineAt(t.Context(), "unix://"+sock)
	require.NoError(t, err)
	byContext, err := EngineFor(t.Context(), "here")
	require.NoError(t, err)
	require.Equal(t, byURL.Identity(), byContext.Identity())
	require.Equal(t, "here", byContext.Context)
	require.Equal(t, "unix://"+sock, byContext.Endpoint().Host)
}
