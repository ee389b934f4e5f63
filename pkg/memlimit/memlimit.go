package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultFraction of the cgroup limit becomes the Go memory limit: the rest is for memory the
// Go runtime does not count (stacks the GC has not returned, fragmentation, cgo) and for the
// spikes between two collections.
const DefaultFraction = 0.8

// GCPercent is the garbage collector's target (GOGC) Set uses while a memory limit is in
// effect and GOGC is not set. With a limit bounding the heap, collecting every time the heap
// doubles (GOGC=100) spends CPU on memory the process is allowed to use: at 400 the heap may
// grow to five times what is live before a collection, and never past the limit, near which
// the collector runs as often as it must. A controller's live heap is mostly its informer
// caches, so this cuts its collections (and their CPU) several-fold when it is idle or busy.
const GCPercent = 400

// Options say where to look and what to set.
type Options struct {
	// Fraction of the cgroup limit to use; DefaultFraction when 0.
	Fraction float64
	// Root is where cgroup file systems are mounted; /sys/fs/cgroup when empty.
	Root string
	// ProcSelfCgroup is the process's cgroup membership file; /proc/self/cgroup when empty.
	ProcSelfCgroup string
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// GCPercent is the GC target set when a limit is in effect and GOGC is not set:
	// GCPercent when 0, left as it is when negative.
	GCPercent int
}

// Result says what was decided.
type Result struct {
	// Limit is the Go memory limit set, in bytes; 0 when none was set.
	Limit int64
	// CgroupLimit is the cgroup's limit in bytes; 0 when there is none.
	CgroupLimit int64
	// Source says where the limit came from: "GOMEMLIMIT", the cgroup file, or "none".
	Source string
	// GCPercent is the GC target Set chose with the limit; 0 when it left GOGC alone.
	GCPercent int
}

func (r Result) String() string {
	if r.Limit == 0 {
		return "no memory limit (" + r.Source + ")"
	}
	gc := ""
	if r.GCPercent != 0 {
		gc = fmt.Sprintf(", GOGC=%d", r.GCPercent)
	}
	if r.Source == "GOMEMLIMIT" {
		return fmt.Sprintf("memory limit %s from GOMEMLIMIT%s", mib(r.Limit), gc)
	}
	return fmt.Sprintf("memory limit %s (of the cgroup's %s, %s)%s", mib(r.Limit), mib(r.CgroupLimit), r.Source, gc)
}

func mib(n int64) string { return fmt.Sprintf("%dMiB", n>>20) }

// Set sets the Go memory limit to a fraction of the cgroup's memory limit, unless GOMEMLIMIT
// is set (the Go runtime has applied it already) or there is no cgroup limit. With a limit in
// effect from either, it raises the GC target to GCPercent unless GOGC is set.
func Set(o Options) (Result, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("GOMEMLIMIT") != "" {
		res := Result{Limit: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}
		res.GCPercent = setGCPercent(o, getenv)
		return res, nil
	}
	limit, file, err := CgroupLimit(o)
	if err != nil {
		return Result{Source: "none"}, err
	}
	if limit == 0 {
		return Result{Source: "none: the cgroup has no memory limit"}, nil
	}
	fraction := o.Fraction
	if fraction <= 0 || fraction > 1 {
		fraction = DefaultFraction
	}
	goLimit := int64(float64(limit) * fraction)
	debug.SetMemoryLimit(goLimit)
	return Result{Limit: goLimit, CgroupLimit: limit, Source: file, GCPercent: setGCPercent(o, getenv)}, nil
}

// setGCPercent raises the GC target now that a limit bounds the heap, and says to what.
func setGCPercent(o Options, getenv func(string) string) int {
	if getenv("GOGC") != "" || o.GCPercent < 0 {
		return 0
	}
	percent := o.GCPercent
	if percent == 0 {
		percent = GCPercent
	}
	debug.SetGCPercent(percent)
	return percent
}

// unlimited is at or above what cgroup v1 reports for "no limit" (the largest page-aligned
// int64); no machine has that much memory.
const unlimited = math.MaxInt64 / 2

// CgroupLimit returns the memory limit of the process's cgroup in bytes, 0 when it has none,
// and the file it was read from. It understands cgroup v2 (memory.max) and v1
// (memory.limit_in_bytes), with the cgroup path either visible under the mount (no cgroup
// namespace) or the mount being the process's own cgroup (a container with a cgroup
// namespace).
func CgroupLimit(o Options) (int64, string, error) {
	root := o.Root
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	self := o.ProcSelfCgroup
	if self == "" {
		self = "/proc/self/cgroup"
	}
	f, err := os.Open(self)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "", nil // not Linux, or no /proc: no limit to find
	}
	if err != nil {
		return 0, "", fmt.Errorf("read cgroup membership: %w", err)
	}
	defer func() { _ = f.Close() }()
	type place struct{ mount, path, file string }
	var places []place
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			// v2 unified, mounted at root (pure v2) or root/unified (hybrid).
			places = append(places, place{root, parts[2], "memory.max"}, place{filepath.Join(root, "unified"), parts[2], "memory.max"})
		case hasController(parts[1], "memory"):
			places = append(places, place{filepath.Join(root, "memory"), parts[2], "memory.limit_in_bytes"})
		}
	}
	if err := sc.Err(); err != nil {
		return 0, "", fmt.Errorf("read cgroup membership: %w", err)
	}
	// A cgroup is bound by its own limit and every ancestor's: take the smallest from the
	// process's cgroup up to the mount. Inside a container with a cgroup namespace the path
	// is "/" and the mount is the container's own cgroup.
	var best int64
	var bestFile string
	for _, p := range places {
		dir := filepath.Join(p.mount, p.path)
		for {
			file := filepath.Join(dir, p.file)
			n, err := readLimit(file)
			if err != nil {
				return 0, file, err
			}
			if n > 0 && (best == 0 || n < best) {
				best, bestFile = n, file
			}
			if dir == p.mount || !strings.HasPrefix(dir, p.mount) {
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	return best, bestFile, nil
}

// readLimit reads one limit file: 0 when it is missing or says there is no limit.
func readLimit(file string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, nil // not this hierarchy, or not visible here
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	if n <= 0 || n >= unlimited {
		return 0, nil
	}
	return n, nil
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
