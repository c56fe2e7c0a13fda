package docker

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"
)

// fakeImages is an engine holding the given images, by every tag.
type fakeImages struct {
	images []image.Summary
	listed client.ImageListOptions
}

func (f *fakeImages) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	for _, s := range f.images {
		for _, t := range s.RepoTags {
			if t == ref {
				cfg := &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Labels: s.Labels}}
				return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: s.ID, RepoTags: s.RepoTags, Config: cfg}}, nil
			}
		}
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such image: " + ref)
}

func (f *fakeImages) ImageList(_ context.Context, o client.ImageListOptions) (client.ImageListResult, error) {
	f.listed = o
	return client.ImageListResult{Items: f.images}, nil
}

func labelled(id, dqlite, pkg, lib, godq string, tags ...string) image.Summary {
	return image.Summary{ID: id, RepoTags: tags, Labels: map[string]string{
		LabelDqlite: dqlite, LabelDqlitePackage: pkg, LabelDqliteLibrary: lib,
		LabelGoDqlite: godq, LabelGoDqliteModule: "github.com/canonical/go-dqlite/" + godq[:2],
	}}
}

func bothImages() *fakeImages {
	return &fakeImages{images: []image.Summary{
		labelled("sha256:b", "1.18.7", "1.18.7-1", "1.18.7", "v3.0.4", "dqtest-node:latest", "dqtest-node:1.18.7"),
		labelled("sha256:a", "1.18.1", "1.18.1-1", "1.18.0", "v2.0.1", "dqtest-node:1.18.1"),
		{ID: "sha256:c", RepoTags: []string{"dqtest-base:sid"}},
	}}
}

func TestImageForNamesTheVersionsTagAndEmptyIsTheDefault(t *testing.T) {
	require.Equal(t, "dqtest-node:1.18.1", ImageFor("1.18.1"))
	require.Equal(t, "dqtest-node:1.18.7", ImageFor(""))
	require.Equal(t, DefaultDqlite, DqliteVersions[len(DqliteVersions)-1], "the default is the newest version shipped")
	require.Equal(t, "make image DQLITE=1.18.7", MakeImageCommand(""))
}

func TestResolveDqliteFindsTheImageAndReadsItsLabels(t *testing.T) {
	ctx := context.Background()
	img, err := resolveDqlite(ctx, bothImages(), "1.18.1")
	require.NoError(t, err)
	require.Equal(t, NodeImage{
		Image: "dqtest-node:1.18.1", ID: "sha256:a", Tags: []string{"dqtest-node:1.18.1"},
		Dqlite: "1.18.1", DqlitePackage: "1.18.1-1", DqliteLibrary: "1.18.0",
		GoDqlite: "v2.0.1", GoDqliteModule: "github.com/canonical/go-dqlite/v2",
	}, img)

	img, err = resolveDqlite(ctx, bothImages(), DefaultDqlite)
	require.NoError(t, err)
	require.Equal(t, "dqtest-node:1.18.7", img.Image)
	require.Equal(t, []string{"dqtest-node:1.18.7", "dqtest-node:latest"}, img.Tags)
	require.Equal(t, "v3.0.4", img.GoDqlite)
}

func TestResolveDqliteMissingImageNamesTheMakeCommand(t *testing.T) {
	f := &fakeImages{images: bothImages().images[1:]} // no 1.18.7
	_, err := resolveDqlite(context.Background(), f, "1.18.7")
	require.ErrorIs(t, err, ErrNoImage)
	require.ErrorContains(t, err, "no node image for dqlite 1.18.7 (dqtest-node:1.18.7): run `make image DQLITE=1.18.7`")
}

func TestResolveDqliteRefusesAVersionNotShippedUnlessItsImageExists(t *testing.T) {
	ctx := context.Background()
	_, err := resolveDqlite(ctx, bothImages(), "1.18.3")
	require.ErrorIs(t, err, ErrNoImage)
	require.ErrorContains(t, err, "dqlite 1.18.3 is not a version dqtest ships node images for (1.18.1, 1.18.7)")

	// One built by hand (build/image.sh) and labelled so is accepted.
	f := bothImages()
	f.images = append(f.images, labelled("sha256:d", "1.18.3", "1.18.3-1", "1.18.3", "v3.0.4", "dqtest-node:1.18.3"))
	img, err := resolveDqlite(ctx, f, "1.18.3")
	require.NoError(t, err)
	require.Equal(t, "sha256:d", img.ID)
}

func TestResolveDqliteRefusesAnImageWhoseLabelsSayAnotherVersion(t *testing.T) {
	f := bothImages()
	f.images[1].RepoTags = append(f.images[1].RepoTags, "dqtest-node:1.18.6") // 1.18.1 under another name
	f.images = append(f.images, image.Summary{ID: "sha256:e", RepoTags: []string{"dqtest-node:1.18.5"}})
	_, err := resolveDqlite(context.Background(), f, "1.18.6")
	require.ErrorContains(t, err, "node image dqtest-node:1.18.6 has label dqtest.dqlite=1.18.1, not dqlite 1.18.6: rebuild it with `make image DQLITE=1.18.6`")
	_, err = resolveDqlite(context.Background(), f, "1.18.5")
	require.ErrorContains(t, err, "node image dqtest-node:1.18.5 has no dqlite version label, not dqlite 1.18.5")
	require.False(t, errors.Is(err, ErrNoImage), "the image is there; it is the wrong one")
}

func TestResolveDqliteRejectsAMalformedVersion(t *testing.T) {
	for _, v := range []string{"latest", "1.18", "1.18.7;rm", "../1.18.7", " 1.18.7"} {
		_, err := ResolveDqlite(context.Background(), v)
		require.ErrorContains(t, err, "want major.minor.patch, one of 1.18.1, 1.18.7", v)
	}
}

func TestNodeImagesListsEachImageOnceByVersion(t *testing.T) {
	f := bothImages()
	f.images = append(f.images, image.Summary{ID: "sha256:old", RepoTags: []string{"dqtest-node:bench-cold"}})
	imgs, err := nodeImages(context.Background(), f)
	require.NoError(t, err)
	require.Equal(t, map[string]map[string]bool{"reference": {"dqtest-node": true}}, map[string]map[string]bool(f.listed.Filters))
	require.Len(t, imgs, 3, "the base image is not a node image; 1.18.7 and latest are one image")
	require.Equal(t, "dqtest-node:bench-cold", imgs[0].Image, "an image without labels sorts first")
	require.Empty(t, imgs[0].Dqlite)
	require.Equal(t, "dqtest-node:1.18.1", imgs[1].Image)
	require.Equal(t, "1.18.0", imgs[1].DqliteLibrary)
	require.Equal(t, "dqtest-node:1.18.7", imgs[2].Image, "listed under its versioned tag, not latest")
	require.Equal(t, []string{"dqtest-node:1.18.7", "dqtest-node:latest"}, imgs[2].Tags)
}

func TestNodeImagesOnAnEngineWithoutThemIsEmpty(t *testing.T) {
	imgs, err := nodeImages(context.Background(), &fakeImages{})
	require.NoError(t, err)
	require.Empty(t, imgs)
}

func TestCompareVersionsIsNumeric(t *testing.T) {
	require.Negative(t, compareVersions("1.18.7", "1.18.10"))
	require.Positive(t, compareVersions("1.18.1", ""))
	require.Zero(t, compareVersions("1.18.7", "1.18.7"))
}

// The images `make image` built (make test builds them first): each carries
// the versions of its own build, and latest is the default version's.
func TestBuiltNodeImagesCarryTheirVersions(t *testing.T) {
	requireDockerAndImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[string]NodeImage{
		"1.18.1": {Dqlite: "1.18.1", DqlitePackage: "1.18.1-1", DqliteLibrary: "1.18.0", GoDqlite: "v2.0.1", GoDqliteModule: "github.com/canonical/go-dqlite/v2"},
		"1.18.7": {Dqlite: "1.18.7", DqlitePackage: "1.18.7-1", DqliteLibrary: "1.18.7", GoDqlite: "v3.0.4", GoDqliteModule: "github.com/canonical/go-dqlite/v3"},
	}
	for _, v := range DqliteVersions {
		img, err := ResolveDqlite(ctx, v)
		if err != nil && os.Getenv("CI") != "true" {
			t.Skipf("%v", err)
		}
		require.NoError(t, err)
		w := want[v]
		w.Image, w.ID, w.Tags = img.Image, img.ID, img.Tags
		require.Equal(t, w, img)
		if v == DefaultDqlite {
			latest, err := InspectNodeImage(ctx, DefaultImage)
			require.NoError(t, err)
			require.Equal(t, img.ID, latest.ID, "%s is the default version's image", DefaultImage)
		}
	}
}

// Issue 17 item 8: the node images are made by build/image.sh's create, cp
// and commit, not by Docker's legacy builder (whose deprecation notice every
// `make run` printed). A legacy build leaves one history entry per
// Dockerfile step, "/bin/sh -c #(nop) ..."; image.sh leaves the base's
// import and one commit with its message.
func TestNodeImagesAreNotMadeByTheLegacyBuilder(t *testing.T) {
	requireDockerAndImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docker, err := dockerClient(ctx)
	require.NoError(t, err)
	defer docker.Close()
	for _, v := range DqliteVersions {
		ref := ImageFor(v)
		h, err := docker.ImageHistory(ctx, ref)
		if cerrdefs.IsNotFound(err) && os.Getenv("CI") != "true" {
			t.Skipf("no image %s", ref)
		}
		require.NoError(t, err)
		require.Len(t, h.Items, 2, "%s: the base's import and one commit: %+v", ref, h.Items)
		for _, e := range h.Items {
			require.NotContains(t, e.CreatedBy, "/bin/sh -c", "%s was made by a Dockerfile builder: %+v", ref, e)
		}
		require.Contains(t, h.Items[0].Comment, "dqtest build/image.sh", ref)
		require.Contains(t, h.Items[1].Comment, "Imported from", ref)
	}
}
