package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/node"
)

// libraryNote explains why the library's own version can differ from the
// package's. Debian's 1.18.1-1 carries no patch: the header is upstream's.
const libraryNote = "the library reports the version in the dqlite.h it was built from; upstream's 1.18.1 left that at 1.18.0, so Debian trixie's 1.18.1 says 1.18.0"

// buildInfo is what this binary was built with.
type buildInfo struct {
	Dqtest         string `json:"dqtest"`
	Dqlite         string `json:"dqlite"`
	DqlitePackage  string `json:"dqlite_package"`
	DqliteLibrary  string `json:"dqlite_library"`
	GoDqlite       string `json:"go_dqlite"`
	GoDqliteModule string `json:"go_dqlite_module"`
	Client         string `json:"client"`
	ClientModule   string `json:"client_module"`
}

func thisBuild() buildInfo {
	return buildInfo{
		Dqtest: version, Dqlite: node.DqliteRelease(), DqlitePackage: node.DqlitePackageVersion(),
		DqliteLibrary: node.DqliteVersionString(), GoDqlite: node.GoDqliteVersion(), GoDqliteModule: node.GoDqliteModule,
		Client: node.ClientVersion(), ClientModule: node.ClientModule,
	}
}

// labels are the node image's version labels for this binary's build, as
// build/image.sh writes them.
func (b buildInfo) labels() [][2]string {
	return [][2]string{
		{docker.LabelDqlite, b.Dqlite},
		{docker.LabelDqlitePackage, b.DqlitePackage},
		{docker.LabelDqliteLibrary, b.DqliteLibrary},
		{docker.LabelGoDqlite, b.GoDqlite},
		{docker.LabelGoDqliteModule, b.GoDqliteModule},
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var asJSON, labels, images bool
		cmd := &cobra.Command{
			Use:   "version",
			Short: "Print dqtest's build (C dqlite, go-dqlite) and the node images present",
			Long: "Print what this dqtest binary was built with: the C dqlite Debian package, the version\n" +
				"the library itself reports, and the go-dqlite module; then the node images present\n" +
				"(dqtest-node:<dqlite version>) with theirs, read from their labels.",
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				b := thisBuild()
				out := cmd.OutOrStdout()
				if labels {
					// For build/image.sh: a build that does not know its
					// versions must not make an image claiming none.
					for _, l := range b.labels() {
						if l[1] == "" {
							return fmt.Errorf("this binary does not know its %s (built without the Makefile's -X flags?)", l[0])
						}
						fmt.Fprintf(out, "%s=%s\n", l[0], l[1])
					}
					return nil
				}
				var imgs []docker.NodeImage
				var imgErr error
				if images {
					ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
					defer cancel()
					imgs, imgErr = docker.NodeImages(ctx)
				}
				if asJSON {
					v := struct {
						Build       buildInfo          `json:"build"`
						Images      []docker.NodeImage `json:"images,omitempty"`
						ImagesError string             `json:"images_error,omitempty"`
						Default     string             `json:"default_dqlite"`
					}{Build: b, Images: imgs, Default: docker.DefaultDqlite}
					if imgErr != nil {
						v.ImagesError = imgErr.Error()
					}
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(v)
				}
				writeVersion(out, b, images, imgs, imgErr)
				return nil
			},
		}
		f := cmd.Flags()
		f.BoolVar(&asJSON, "json", false, "print JSON")
		f.BoolVar(&images, "images", true, "list the node images present (needs Docker)")
		f.BoolVar(&labels, "labels", false, "print this build's node image labels (key=value lines, for build/image.sh) and nothing else")
		return cmd
	})
}

func writeVersion(out io.Writer, b buildInfo, listImages bool, imgs []docker.NodeImage, imgErr error) {
	fmt.Fprintf(out, "dqtest %s\n", b.Dqtest)
	fmt.Fprintf(out, "  C dqlite:  %s (Debian package %s); the library reports %s\n",
		orUnknown(b.Dqlite), orUnknown(b.DqlitePackage), b.DqliteLibrary)
	fmt.Fprintf(out, "  go-dqlite: %s (%s), the C bindings\n", orUnknown(b.GoDqlite), b.GoDqliteModule)
	fmt.Fprintf(out, "  client:    %s (%s client and driver, pure Go; one wire protocol for every dqlite dqtest ships)\n",
		orUnknown(b.Client), b.ClientModule)
	fmt.Fprintf(out, "  note:      %s\n", libraryNote)
	if !listImages {
		return
	}
	if imgErr != nil {
		fmt.Fprintf(out, "node images: cannot list them: %v\n", imgErr)
		return
	}
	if len(imgs) == 0 {
		fmt.Fprintf(out, "node images: none; `make image` builds one per dqlite version (%s)\n", strings.Join(docker.DqliteVersions, ", "))
		return
	}
	fmt.Fprintf(out, "node images (default dqlite %s):\n", docker.DefaultDqlite)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  IMAGE\tC DQLITE\tPACKAGE\tLIBRARY\tGO-DQLITE\tALSO TAGGED")
	for _, img := range imgs {
		var also []string
		for _, t := range img.Tags {
			if t != img.Image {
				also = append(also, t)
			}
		}
		slices.Sort(also)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", img.Image, orUnknown(img.Dqlite), orUnknown(img.DqlitePackage),
			orUnknown(img.DqliteLibrary), goDqliteName(img), strings.Join(also, " "))
	}
	_ = tw.Flush()
	var missing []string
	for _, v := range docker.DqliteVersions {
		if !slices.ContainsFunc(imgs, func(i docker.NodeImage) bool { return i.Dqlite == v }) {
			missing = append(missing, fmt.Sprintf("%s (`%s`)", v, docker.MakeImageCommand(v)))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(out, "  missing: %s\n", strings.Join(missing, ", "))
	}
}

func goDqliteName(img docker.NodeImage) string {
	if img.GoDqlite == "" {
		return "unknown"
	}
	return img.GoDqlite
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
