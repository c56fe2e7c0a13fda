package docker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/verdict"
	"github.com/moby/moby/client"
)

// The C dqlite versions dqtest ships node images for. Each is built from a
// Debian root (build/rootfs.sh) with the go-dqlite major that compiles
// against it: 1.18.1 from trixie with go-dqlite v2, 1.18.7 from sid with
// go-dqlite v3 (build tag dqlite_v3).
var DqliteVersions = mode.DqliteVersions

// DefaultDqlite is the version a run uses when neither the scenario nor the
// command line names one: the newest dqtest ships. dqtest-node:latest is
// another tag of the same image.
const DefaultDqlite = mode.DefaultDqlite

// NodeImageRepo is the repository of the node images: dqtest-node:<version>.
const NodeImageRepo = "dqtest-node"

// Labels every node image carries (build/image.sh writes them from
// `dqtest version --labels` of the binary inside).
const (
	// LabelDqlite is the C dqlite release the image is named after (the
	// Debian package's upstream version), e.g. 1.18.1.
	LabelDqlite = "dqtest.dqlite"
	// LabelDqlitePackage is the Debian package version, e.g. 1.18.1-1.
	LabelDqlitePackage = "dqtest.dqlite.package"
	// LabelDqliteLibrary is what the linked library reports
	// (dqlite_version_number), e.g. 1.18.0 for Debian's 1.18.1.
	LabelDqliteLibrary = "dqtest.dqlite.library"
	// LabelGoDqlite is the go-dqlite module version the node binds the C
	// library with, e.g. v2.0.1; LabelGoDqliteModule its module path.
	LabelGoDqlite       = "dqtest.go-dqlite"
	LabelGoDqliteModule = "dqtest.go-dqlite.module"
	// LabelBinary is the first 16 hex digits of the node binary's sha256.
	LabelBinary = "dqtest.binary"
)

// NodeImage is a node image and what its labels say about its build.
type NodeImage struct {
	// Image is the reference it was looked up by (dqtest-node:1.18.7).
	Image string `json:"image"`
	// ID is the image's ID; Tags all of its repo:tag names.
	ID   string   `json:"id"`
	Tags []string `json:"tags,omitempty"`
	// Dqlite, DqlitePackage and DqliteLibrary: the C dqlite release, the
	// Debian package version and the library's self-reported version.
	Dqlite        string `json:"dqlite"`
	DqlitePackage string `json:"dqlite_package"`
	DqliteLibrary string `json:"dqlite_library"`
	// GoDqlite is the go-dqlite version (v3.0.4) and GoDqliteModule its
	// module path.
	GoDqlite       string `json:"go_dqlite"`
	GoDqliteModule string `json:"go_dqlite_module"`
}

// ImageFor is the node image tag of a C dqlite version ("" for
// DefaultDqlite): dqtest-node:<version>. It checks nothing.
func ImageFor(version string) string {
	if version == "" {
		version = DefaultDqlite
	}
	return NodeImageRepo + ":" + version
}

// MakeImageCommand is the command that builds the node image of a version.
func MakeImageCommand(version string) string {
	if version == "" {
		version = DefaultDqlite
	}
	return "make image DQLITE=" + version
}

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// ResolveDqlite maps a C dqlite version ("" for DefaultDqlite) to its node
// image and checks that the image exists locally and that its labels say it
// carries that version. A missing image is an error wrapping ErrNoImage that
// names the make command building it, e.g.
//
//	no node image for dqlite 1.18.7 (dqtest-node:1.18.7): run `make image DQLITE=1.18.7`
//
// A version dqtest does not ship is accepted only when an image of that
// name exists and says so (one built by hand with build/image.sh).
func ResolveDqlite(ctx context.Context, version string) (NodeImage, error) {
	if version == "" {
		version = DefaultDqlite
	}
	if !versionRE.MatchString(version) {
		return NodeImage{}, fmt.Errorf("dqlite version %q: want major.minor.patch, one of %s", version, strings.Join(DqliteVersions, ", "))
	}
	docker, err := dockerClient(ctx)
	if err != nil {
		return NodeImage{}, err
	}
	defer docker.Close()
	return resolveDqlite(ctx, docker, version)
}

// imageAPI is the part of the Docker client the image functions use.
type imageAPI interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageList(ctx context.Context, opts client.ImageListOptions) (client.ImageListResult, error)
}

func resolveDqlite(ctx context.Context, docker imageAPI, version string) (NodeImage, error) {
	ref := ImageFor(version)
	img, err := inspectNodeImage(ctx, docker, ref)
	if errors.Is(err, ErrNoImage) {
		if !slices.Contains(DqliteVersions, version) {
			return NodeImage{}, fmt.Errorf("%w: dqlite %s is not a version dqtest ships node images for (%s), and there is no image %s",
				ErrNoImage, version, strings.Join(DqliteVersions, ", "), ref)
		}
		return NodeImage{}, fmt.Errorf("%w: no node image for dqlite %s (%s): run `%s`", ErrNoImage, version, ref, MakeImageCommand(version))
	}
	if err != nil {
		return NodeImage{}, err
	}
	if img.Dqlite != version {
		says := "no dqlite version label"
		if img.Dqlite != "" {
			says = "label " + LabelDqlite + "=" + img.Dqlite
		}
		return NodeImage{}, fmt.Errorf("node image %s has %s, not dqlite %s: rebuild it with `%s`", ref, says, version, MakeImageCommand(version))
	}
	return img, nil
}

// InspectNodeImage reads a node image's version labels. A missing image is
// an error wrapping ErrNoImage; an image without labels (built before they
// existed) comes back with empty version fields.
func InspectNodeImage(ctx context.Context, image string) (NodeImage, error) {
	docker, err := dockerClient(ctx)
	if err != nil {
		return NodeImage{}, err
	}
	defer docker.Close()
	return inspectNodeImage(ctx, docker, image)
}

func inspectNodeImage(ctx context.Context, docker imageAPI, image string) (NodeImage, error) {
	res, err := docker.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return NodeImage{}, fmt.Errorf("docker backend: %w: %s", ErrNoImage, image)
	}
	if err != nil {
		return NodeImage{}, fmt.Errorf("docker backend: inspect image %s: %w", image, err)
	}
	var labels map[string]string
	if res.Config != nil {
		labels = res.Config.Labels
	}
	img := fromLabels(labels)
	img.Image, img.ID, img.Tags = image, res.ID, slices.Clone(res.RepoTags)
	slices.Sort(img.Tags)
	return img, nil
}

func fromLabels(l map[string]string) NodeImage {
	return NodeImage{
		Dqlite: l[LabelDqlite], DqlitePackage: l[LabelDqlitePackage], DqliteLibrary: l[LabelDqliteLibrary],
		GoDqlite: l[LabelGoDqlite], GoDqliteModule: l[LabelGoDqliteModule],
	}
}

// NodeImages lists the node images present locally (repository
// dqtest-node), one entry per image (an image with several tags, such as
// 1.18.7 and latest, is listed once, under its versioned tag when it has
// one), ordered by dqlite version.
func NodeImages(ctx context.Context) ([]NodeImage, error) {
	docker, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer docker.Close()
	return nodeImages(ctx, docker)
}

func nodeImages(ctx context.Context, docker imageAPI) ([]NodeImage, error) {
	res, err := docker.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", NodeImageRepo)})
	if err != nil {
		return nil, fmt.Errorf("docker backend: list images: %w", err)
	}
	var out []NodeImage
	for _, s := range res.Items {
		var tags []string
		for _, t := range s.RepoTags {
			if strings.HasPrefix(t, NodeImageRepo+":") {
				tags = append(tags, t)
			}
		}
		if len(tags) == 0 {
			continue
		}
		slices.Sort(tags)
		img := fromLabels(s.Labels)
		img.ID, img.Tags, img.Image = s.ID, tags, tags[0]
		if img.Dqlite != "" && slices.Contains(tags, ImageFor(img.Dqlite)) {
			img.Image = ImageFor(img.Dqlite)
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b NodeImage) int {
		if c := compareVersions(a.Dqlite, b.Dqlite); c != 0 {
			return c
		}
		return strings.Compare(a.Image, b.Image)
	})
	return out, nil
}

// compareVersions orders dotted numeric versions; "" sorts first.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		var x, y int
		_, _ = fmt.Sscan(as[i], &x)
		_, _ = fmt.Sscan(bs[i], &y)
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

// imagesOfNodes picks each node's image: spec.Image for every node when set
// (its labels say which dqlite it carries), else the image of the node's
// dqlite version (spec.NodeDqlite, else spec.Dqlite, else DefaultDqlite),
// checked by resolveDqlite. A missing image is an error naming the make
// command that builds it.
func imagesOfNodes(ctx context.Context, docker imageAPI, spec harness.ClusterSpec) (map[string]NodeImage, error) {
	out := make(map[string]NodeImage, spec.Nodes)
	byVersion := map[string]NodeImage{}
	for i := 1; i <= spec.Nodes; i++ {
		name := nodeName(i)
		if spec.Image != "" {
			img, ok := byVersion[""]
			if !ok {
				var err error
				img, err = inspectNodeImage(ctx, docker, spec.Image)
				if err != nil {
					return nil, fmt.Errorf("%w; build it with `make image` (dqtest never pulls images)", err)
				}
				byVersion[""] = img
			}
			out[name] = img
			continue
		}
		v := spec.NodeDqlite[name]
		if v == "" {
			v = spec.Dqlite
		}
		if v == "" {
			v = DefaultDqlite
		}
		img, ok := byVersion[v]
		if !ok {
			var err error
			if img, err = resolveDqlite(ctx, docker, v); err != nil {
				return nil, fmt.Errorf("docker backend: node %s: %w", name, err)
			}
			byVersion[v] = img
		}
		out[name] = img
	}
	return out, nil
}

// Builds implements harness.Builder: which dqlite each node runs, from its
// image's labels, one entry per image.
func (c *Cluster) Builds() []verdict.Build {
	var builds []verdict.Build
	idx := map[string]int{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		// Every image the node ran: before an upgrade or downgrade too.
		for _, img := range append(slices.Clone(n.ran), n.image) {
			i, ok := idx[img.Image]
			if !ok {
				i = len(builds)
				idx[img.Image] = i
				builds = append(builds, verdict.Build{Image: img.Image, Dqlite: img.Dqlite,
					DqlitePackage: img.DqlitePackage, DqliteLibrary: img.DqliteLibrary, GoDqlite: img.GoDqlite})
			}
			if !slices.Contains(builds[i].Nodes, n.name) {
				builds[i].Nodes = append(builds[i].Nodes, n.name)
			}
		}
	}
	return builds
}
