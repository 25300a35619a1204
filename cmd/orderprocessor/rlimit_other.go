//go:build !linux

package main

import (
	"errors"
	"fmt"
)

// raiseOpenFileLimit is only implemented on Linux.
func raiseOpenFileLimit() (openFileLimit, error) {
	return openFileLimit{}, fmt.Errorf("raise open file limit: %w", errors.ErrUnsupported)
}
