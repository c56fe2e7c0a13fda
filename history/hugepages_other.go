//go:build !linux

package history

func adviseHugePages[T any]([]T) {}
