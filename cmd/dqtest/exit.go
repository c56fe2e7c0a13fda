package main

import (
	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/verdict"
)

// exitFor is the command's result for an outcome: nil for valid, else an
// exit error with verdict.ExitCode's code.
func exitFor(outcome checker.Verdict) error {
	if code := verdict.ExitCode(outcome); code != exitValid {
		return &exitError{code: code}
	}
	return nil
}
