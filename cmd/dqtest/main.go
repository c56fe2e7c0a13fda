// Command dqtest is a Jepsen-style test harness and simulator for dqlite.
package main

import (
	"os"
)

func main() {
	os.Exit(execute())
}
