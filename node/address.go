package node

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// checkAddress validates a node address: host:port with a port in 1..65535
// and a host that other nodes can dial. A wildcard host (0.0.0.0, ::) is
// refused: raft stores the address and hands it to peers and clients as the
// way to reach this node, and a wildcard reaches nobody.
func checkAddress(what, address string) (host string, isIP bool, err error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", false, fmt.Errorf("%s %q: want host:port: %v", what, address, err)
	}
	if host == "" {
		return "", false, fmt.Errorf("%s %q: no host: give a specific IP address or name", what, address)
	}
	if err := checkPort(port); err != nil {
		return "", false, fmt.Errorf("%s %q: %v", what, address, err)
	}
	ip, perr := netip.ParseAddr(host)
	if perr != nil {
		return host, false, nil
	}
	if ip.IsUnspecified() {
		return "", false, fmt.Errorf("%s %q: %s is a wildcard address that peers cannot dial: give this node's own IP", what, address, host)
	}
	return host, true, nil
}

// checkBindAddress validates the address dqlite listens on: dqlite parses it
// itself and takes only a numeric IP (wildcards allowed) and a port.
func checkBindAddress(address string) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("bind address %q: want ip:port: %v", address, err)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("bind address %q: %v", address, err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("bind address %q: host %q is not a numeric IP address (dqlite binds only numeric addresses)", address, host)
	}
	return nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 1..65535", port)
	}
	return nil
}

// prepareDataDir makes dir absolute and creates it if missing. An existing
// path must be a directory.
func prepareDataDir(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("data dir: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data dir %q: %v", dir, err)
	}
	st, err := os.Stat(abs)
	switch {
	case err == nil && !st.IsDir():
		return "", fmt.Errorf("data dir %q exists and is not a directory", abs)
	case err == nil:
		return abs, nil
	case !os.IsNotExist(err):
		return "", fmt.Errorf("data dir %q: %v", abs, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return "", fmt.Errorf("data dir %q: %v", abs, err)
	}
	return abs, nil
}
