// Command fm-image-plugin is the fm-image plugin process: it serves the
// model engine to the fm-image host over go-plugin/gRPC. It is started by
// fm-image and refuses to run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/fm-image/fm-image/plugin"
	"github.com/fm-image/fm-image/plugin/engine"
)

func main() {
	logger := plugin.NewLogger("fm-image-plugin")
	if err := plugin.Serve(engine.New(logger), logger); err != nil {
		fmt.Fprintf(os.Stderr, "fm-image-plugin: %v\n", err)
		os.Exit(1)
	}
}
