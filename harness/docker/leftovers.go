package docker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Leftover is a container, network or volume of a dqtest run still on the
// Docker engine: one that a run killed hard (SIGKILL, a crash of dqtest
// itself, a machine reboot) never removed, or one of a run still going.
type Leftover struct {
	Kind string `json:"kind"` // container, network or volume
	Name string `json:"name"`
	ID   string `json:"id,omitempty"`
	Run  string `json:"run"`
	// Detail is a container's state (running, paused, exited...) or a
	// network's subnet.
	Detail string `json:"detail,omitempty"`
}

func (l Leftover) String() string {
	s := fmt.Sprintf("%s %s (run %s", l.Kind, l.Name, l.Run)
	if l.Detail != "" {
		s += ", " + l.Detail
	}
	return s + ")"
}

// Leftovers lists the containers, networks and volumes labelled with runID
// (every dqtest run's when runID is ""), containers first, then networks,
// then volumes, each by name: what Cleanup and CleanupAll would remove.
func Leftovers(ctx context.Context, runID string) ([]Leftover, error) {
	docker, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer docker.Close()
	return listLeftovers(ctx, docker, runID)
}

func listLeftovers(ctx context.Context, docker client.APIClient, runID string) ([]Leftover, error) {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	label := labelRun
	if runID != "" {
		label += "=" + runID
	}
	filter := make(client.Filters).Add("label", label)
	var out []Leftover
	ctrs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	for _, c := range ctrs.Items {
		name := strings.TrimPrefix(strings.Join(c.Names, ","), "/")
		out = append(out, Leftover{Kind: "container", Name: name, ID: shortID(c.ID), Run: c.Labels[labelRun], Detail: string(c.State)})
	}
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list networks labelled %s: %w", label, err)
	}
	for _, n := range nets.Items {
		var subnets []string
		for _, cfg := range n.IPAM.Config {
			if cfg.Subnet.IsValid() {
				subnets = append(subnets, cfg.Subnet.String())
			}
		}
		out = append(out, Leftover{Kind: "network", Name: n.Name, ID: shortID(n.ID), Run: n.Labels[labelRun], Detail: strings.Join(subnets, ", ")})
	}
	vols, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list volumes labelled %s: %w", label, err)
	}
	for _, v := range vols.Items {
		out = append(out, Leftover{Kind: "volume", Name: v.Name, Run: v.Labels[labelRun]})
	}
	kinds := []string{"container", "network", "volume"}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return slices.Index(kinds, out[i].Kind) < slices.Index(kinds, out[j].Kind)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// LeftoverRuns are the run ids among leftovers, sorted.
func LeftoverRuns(leftovers []Leftover) []string {
	var runs []string
	for _, l := range leftovers {
		if !slices.Contains(runs, l.Run) {
			runs = append(runs, l.Run)
		}
	}
	sort.Strings(runs)
	return runs
}

// LeftoverSummary counts leftovers in words: "2 containers, 1 network".
func LeftoverSummary(leftovers []Leftover) string {
	counts := map[string]int{}
	for _, l := range leftovers {
		counts[l.Kind]++
	}
	var parts []string
	for _, k := range []string{"container", "network", "volume"} {
		switch n := counts[k]; n {
		case 0:
		case 1:
			parts = append(parts, "1 "+k)
		default:
			parts = append(parts, fmt.Sprintf("%d %ss", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
