package node

// #cgo LDFLAGS: -ldqlite
// #include <dqlite.h>
import "C"

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// DqliteVersion is the C dqlite library's version number as it reports it at
// run time (major*10000 + minor*100 + patch). It is the number in the
// header the library was built from (dqlite.h's DQLITE_VERSION_*), which is
// not always the release's: Debian trixie's package 1.18.1 reports 11800,
// because upstream's 1.18.1 left the header at 1.18.0.
func DqliteVersion() int { return int(C.dqlite_version_number()) }

// DqliteVersionString formats DqliteVersion as major.minor.patch.
func DqliteVersionString() string {
	v := DqliteVersion()
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// dqlitePackage is the Debian version of the libdqlite-dev package this
// binary was linked against, set at build time:
// -ldflags "-X github.com/dqtest/dqtest/node.dqlitePackage=1.18.7-1".
var dqlitePackage string

// DqlitePackageVersion is the Debian package version of the C dqlite this
// binary links (for example 1.18.1-1), or "" when the build did not say.
func DqlitePackageVersion() string { return dqlitePackage }

// DqliteRelease is the upstream release of the C dqlite package this binary
// links (the package version without Debian's epoch and revision, for
// example 1.18.1), or "" when the build did not say. It is the version
// dqtest's node images are named by (dqtest-node:1.18.1).
func DqliteRelease() string { return UpstreamVersion(dqlitePackage) }

// UpstreamVersion strips a Debian package version's epoch ("1:") and
// revision ("-1") off: 1.18.7-1 -> 1.18.7.
func UpstreamVersion(debian string) string {
	v := debian
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		v = v[:i]
	}
	return v
}

// GoDqliteVersion is the version of the go-dqlite module (GoDqliteModule)
// whose C bindings this binary links, from the build information, or ""
// when the binary carries none.
func GoDqliteVersion() string { return moduleVersion(GoDqliteModule) }

// ClientModule is the go-dqlite module whose pure-Go client and driver run
// dqtest's SQL (node/dqclient) in every build: its wire protocol is the
// same for dqlite 1.18.1 and 1.18.7.
const ClientModule = "github.com/canonical/go-dqlite/v2"

// ClientVersion is ClientModule's version in this binary, or "".
func ClientVersion() string { return moduleVersion(ClientModule) }

func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
