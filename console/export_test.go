package console

import (
	"context"
	"testing"
)

// Exported for the external tests in package console_test, which import
// the demo (and so the server, which imports this package) and cannot
// live in package console.

// StartBrowser is browser: a headless Chromium and its console messages.
func StartBrowser(t *testing.T) (context.Context, func() []string) { return browser(t) }

// ArtifactDir is where screenshots go ($CUSTOS_ARTIFACTS/console).
func ArtifactDir(t *testing.T) string { return artifactDir(t) }
