package detect

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Crash is one way a node died, found from outside: an assertion in C, a
// signal (SIGSEGV, SIGABRT, ...) caught by the Go runtime, a Go panic or
// fatal error, or an exit the log does not explain. An assertion or segfault
// in C dqlite kills the whole node process, so nothing inside it can report
// one; the node's log and its exit status are the only evidence.
type Crash struct {
	Node string `json:"node"`
	// Kind is one of assertion, signal, go-panic, go-fatal, exit.
	Kind string `json:"kind"`
	// Signature identifies the crash across runs and restarts: the signal
	// and the assertion text, or the panic message and the first frames
	// outside the Go runtime. Addresses and argument values are left out.
	Signature string `json:"signature"`
	// Signal is the signal named in the log or the exit status, if any.
	Signal string `json:"signal,omitempty"`
	// Count is how many times this signature appeared in the node's log
	// (once per crash; a restarted node may crash again).
	Count int `json:"count"`
	// Lines are the matching lines and the start of the trace that follows.
	Lines []string `json:"lines,omitempty"`
	// Tail is the end of the node's log, for context.
	Tail []string `json:"tail,omitempty"`
	// Expected is set when the scenario's expect.crash names this crash.
	Expected bool `json:"expected,omitempty"`

	// Before are the node's last log lines before the crash report: what
	// it was doing. LogTime is the time of the last of them: the crash
	// came right after it. Empty when the log has none.
	Before  []string `json:"before,omitempty"`
	LogTime string   `json:"log_time,omitempty"`
	// Address is where a signal struck, as the Go runtime reports it
	// ("addr=0x200 pc=0x9ece67"): the faulting address and the program
	// counter, inside C code for a crash in dqlite.
	Address string `json:"address,omitempty"`
	// Exit is the node process's exit status, taken before the harness
	// restarted the node for the final reads, or at the end of the run.
	Exit *NodeExit `json:"exit,omitempty"`
	// InFlight is what the run was doing to the node when it crashed.
	InFlight *InFlight `json:"in_flight,omitempty"`
	// Seed and Rerun say how to run it again: the resolved scenario in
	// the run directory carries the seed.
	Seed  int64  `json:"seed,omitempty"`
	Rerun string `json:"rerun,omitempty"`
}

const (
	crashExcerptLines = 16 // lines kept from each crash
	crashTailLines    = 20 // lines kept from the end of a log
	crashFrames       = 3  // frames in a signature
	crashBeforeLines  = 5  // log lines kept from before a crash
)

var (
	// glibc: "prog: file:line: function: Assertion `expr' failed." (older
	// glibc quotes with a backtick, newer with a straight quote).
	assertionRE = regexp.MustCompile("^(?:\\S+: )?(\\S+:\\d+: (?:[^:]+: )?Assertion [`'](.*)' failed\\.?)\\s*$")
	// The Go runtime's report of a signal it cannot turn into a panic,
	// e.g. "SIGSEGV: segmentation violation" or "SIGABRT: abort".
	signalRE     = regexp.MustCompile(`^(SIG[A-Z]+): (.*)$`)
	goPanicRE    = regexp.MustCompile(`^panic: (.*)$`)
	goFatalRE    = regexp.MustCompile(`^fatal error: (.*)$`)
	goroutineRE  = regexp.MustCompile(`^goroutine \d+ .*\[.*\]:$`)
	sigInPanicRE = regexp.MustCompile(`^\[signal (SIG[A-Z]+):`)
	// The line after the Go runtime's signal report:
	// "PC=0x9ece67 m=3 sigcode=1 addr=0x200".
	pcRE   = regexp.MustCompile(`^PC=(0x[0-9a-fA-F]+)\b.*?(?:\baddr=(0x[0-9a-fA-F]+))?\s*$`)
	timeRE = regexp.MustCompile(`^time=(\S+)`)
	// Shells and C runtimes print these when a child dies of a signal.
	// bash: "/bin/sh: line 1:    7 Segmentation fault      (core dumped) dqtest node".
	shellSignalRE = regexp.MustCompile(`(?:^|: |\s\d+\s+)(Segmentation fault|Aborted)(?:\s+\(core dumped\)|\s{2,}|$)`)
	hexRE         = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	frameArgsRE   = regexp.MustCompile(`\((?:[^()]|\.\.\.)*\)$`)
)

// DetectCrashes reads one node's log and exit status and returns what they
// show, one Crash per distinct signature. killedByNemesis says the nemesis
// sent this node SIGKILL during the run, so a SIGKILL exit is the fault
// working, not a crash.
func DetectCrashes(node string, exit NodeExit, log []byte, killedByNemesis bool) []Crash {
	lines := splitLines(log)
	var found []Crash
	bySig := map[string]int{}
	add := func(c Crash) {
		if i, ok := bySig[c.Signature]; ok {
			found[i].Count++
			return
		}
		c.Node, c.Count = node, 1
		bySig[c.Signature] = len(found)
		found = append(found, c)
	}

	for i := 0; i < len(lines); i++ {
		c, end, ok := crashAt(lines, i)
		if !ok {
			continue
		}
		c.Before, c.LogTime = logLinesBefore(lines[:i], crashBeforeLines)
		add(c)
		i = end - 1
	}

	if len(found) == 0 {
		if c, ok := exitCrash(exit, killedByNemesis); ok {
			add(c)
		}
	}
	tail := lastLines(lines, crashTailLines)
	for i := range found {
		found[i].Tail = tail
		if found[i].Signal == "" {
			found[i].Signal = exit.Signal
		}
	}
	return found
}

// crashAt reports whether a crash report starts at lines[i], and where it
// ends (the next line that could start another report).
func crashAt(lines []string, i int) (Crash, int, bool) {
	line := lines[i]
	if isLogLine(line) {
		return Crash{}, 0, false
	}
	var c Crash
	var message string
	switch {
	case assertionRE.MatchString(line):
		m := assertionRE.FindStringSubmatch(line)
		c.Kind, c.Signal, message = "assertion", "SIGABRT", m[1]
	case signalRE.MatchString(line):
		m := signalRE.FindStringSubmatch(line)
		c.Kind, c.Signal, message = "signal", m[1], m[1]+": "+m[2]
	case goPanicRE.MatchString(line):
		c.Kind, message = "go-panic", line
	case goFatalRE.MatchString(line):
		c.Kind, message = "go-fatal", line
	case shellSignalRE.MatchString(line):
		m := shellSignalRE.FindStringSubmatch(line)
		c.Kind, c.Signal, message = "signal", map[string]string{"Segmentation fault": "SIGSEGV", "Aborted": "SIGABRT"}[m[1]], m[1]
	default:
		return Crash{}, 0, false
	}

	// The report runs on through the runtime's trace. An assertion is
	// followed by the runtime's SIGABRT report of the same crash, a panic
	// by its "[signal ...]" line: both belong to this crash.
	end := i + 1
	seenTrace := false
	for end < len(lines) {
		l := lines[end]
		if goroutineRE.MatchString(l) {
			seenTrace = true
		}
		if m := sigInPanicRE.FindStringSubmatch(l); m != nil && c.Signal == "" {
			c.Signal = m[1]
		}
		if seenTrace && (startsReport(l) || signalRE.MatchString(l)) {
			break
		}
		if !seenTrace && end-i > 4 && startsReport(l) {
			break
		}
		if isLogLine(l) {
			// An ordinary log line: the process was restarted.
			break
		}
		end++
	}
	if c.Kind == "go-panic" || c.Kind == "go-fatal" {
		// A panic's message (and the value panicked with) can hold
		// addresses; they differ from run to run.
		message = hexRE.ReplaceAllString(message, "0x?")
	}
	frames := firstFrames(lines[i:end], crashFrames)
	c.Signature = message
	if c.Kind == "assertion" {
		c.Signature = "SIGABRT: " + message
	} else if len(frames) > 0 {
		c.Signature = message + " at " + strings.Join(frames, " < ")
	}
	c.Lines = firstLines(lines[i:end], crashExcerptLines)
	c.Address = faultAddress(lines[i:end])
	return c, end, true
}

// faultAddress finds the Go runtime's "PC=... addr=..." line in a report.
func faultAddress(report []string) string {
	for _, l := range report[:min(len(report), 4)] {
		if m := pcRE.FindStringSubmatch(l); m != nil {
			if m[2] != "" {
				return "addr=" + m[2] + " pc=" + m[1]
			}
			return "pc=" + m[1]
		}
	}
	return ""
}

// logLinesBefore returns the last n structured log lines and the time of
// the last one.
func logLinesBefore(lines []string, n int) ([]string, string) {
	var before []string
	for i := len(lines) - 1; i >= 0 && len(before) < n; i-- {
		if isLogLine(lines[i]) {
			before = append([]string{lines[i]}, before...)
		}
	}
	if len(before) == 0 {
		return nil, ""
	}
	if m := timeRE.FindStringSubmatch(before[len(before)-1]); m != nil {
		return before, m[1]
	}
	return before, ""
}

// startsReport reports whether a line opens a crash report of its own.
func startsReport(l string) bool {
	return assertionRE.MatchString(l) || goPanicRE.MatchString(l) || goFatalRE.MatchString(l) ||
		shellSignalRE.MatchString(l)
}

// isLogLine recognises a structured log line (slog's text or JSON handler,
// or the standard logger), which a crash trace never contains.
func isLogLine(l string) bool {
	return strings.HasPrefix(l, "time=") || strings.HasPrefix(l, `{"time":`) ||
		(len(l) > 20 && l[4] == '/' && l[7] == '/' && l[10] == ' ' && l[13] == ':')
}

// firstFrames returns the function names of the first goroutine's first n
// frames outside the Go runtime, without arguments.
func firstFrames(trace []string, n int) []string {
	var frames []string
	inTrace := false
	for _, l := range trace {
		if goroutineRE.MatchString(l) {
			if inTrace {
				break // the second goroutine: the crash's own trace is done
			}
			inTrace = true
			continue
		}
		if !inTrace || l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
			if inTrace && l == "" {
				break
			}
			continue
		}
		fn := frameArgsRE.ReplaceAllString(l, "")
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "panic(") || fn == "panic" {
			continue
		}
		frames = append(frames, fn)
		if len(frames) == n {
			break
		}
	}
	return frames
}

// exitCrash turns an abnormal exit the log did not explain into a Crash.
func exitCrash(exit NodeExit, killedByNemesis bool) (Crash, bool) {
	switch {
	case exit.Running:
		return Crash{}, false
	case exit.Signal != "":
		if exit.Signal == "SIGKILL" && killedByNemesis {
			return Crash{}, false
		}
		return Crash{Kind: "signal", Signal: exit.Signal, Signature: "killed by " + exit.Signal}, true
	case exit.OOM:
		return Crash{Kind: "exit", Signature: "killed by the OOM killer"}, true
	default:
		return Crash{Kind: "exit", Signature: fmt.Sprintf("exited with status %d", exit.ExitCode)}, true
	}
}

func splitLines(b []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	return lines
}

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return append([]string(nil), lines...)
}

func firstLines(lines []string, n int) []string {
	if len(lines) > n {
		lines = lines[:n]
	}
	return append([]string(nil), lines...)
}

// LogLinesUntil returns node's last log lines up to the time t (RFC 3339):
// what it was doing when it hung, not what it did after its restart.
func LogLinesUntil(reports []NodeReport, node, t string) []string {
	until, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return nil
	}
	for _, rep := range reports {
		if rep.Node != node {
			continue
		}
		lines := splitLines(rep.Log)
		end := 0
		for i, l := range lines {
			m := timeRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if lt, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && lt.After(until) {
				break
			}
			end = i + 1
		}
		before, _ := logLinesBefore(lines[:end], crashBeforeLines)
		return before
	}
	return nil
}
