package node

// #cgo LDFLAGS: -ldqlite
// #include <dqlite.h>
import "C"

import (
	"fmt"

	_ "github.com/canonical/go-dqlite/v2" // links the C library go-dqlite binds
)

// DqliteVersion is the C dqlite library's version number as it reports it at
// run time (major*10000 + minor*100 + patch). Debian's 1.18.1 package still
// reports 11800 (ENVIRONMENT.md).
func DqliteVersion() int { return int(C.dqlite_version_number()) }

// DqliteVersionString formats DqliteVersion as major.minor.patch.
func DqliteVersionString() string {
	v := DqliteVersion()
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}
