package sdk_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// The plugin speaks only mutual TLS: the client Open returns works, while a
// plain-text gRPC client on the same socket gets no answer.
func TestPluginConnectionIsTLS(t *testing.T) {
	c := open(t, sdk.Options{})
	if _, err := c.Presets(context.Background()); err != nil {
		t.Fatalf("the client's own call: %v", err)
	}
	addr := sdk.PluginAddr(c)
	conn, err := grpc.NewClient(addr.Network()+":"+addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = fmimagepb.NewGeneratorClient(conn).Presets(ctx, &fmimagepb.PresetsRequest{})
	if err == nil {
		t.Fatal("a plain-text client was answered: the plugin connection is not TLS")
	}
	t.Logf("plain-text call refused: %v", err)
}
