package docker

import "context"

// Available reports why this backend cannot run here (Docker unreachable,
// the node image missing), or nil when it can. Tests of other packages
// use it to fail under CI=true and skip otherwise.
func Available(ctx context.Context, image string) error {
	docker, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	if image == "" {
		image = DefaultImage
	}
	return requireImage(ctx, docker, image)
}
