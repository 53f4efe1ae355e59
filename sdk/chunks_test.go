package sdk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// rawServer answers Generate with a fixed list of chunks, valid or not.
type rawServer struct {
	fmimagepb.UnimplementedGeneratorServer
	chunks []*fmimagepb.ImageChunk
}

func (s *rawServer) Generate(_ *fmimagepb.GenerateRequest, stream fmimagepb.Generator_GenerateServer) error {
	for _, c := range s.chunks {
		if err := stream.Send(&fmimagepb.GenerateEvent{Event: &fmimagepb.GenerateEvent_Chunk{Chunk: c}}); err != nil {
			return err
		}
	}
	return nil
}

// rawPlugin serves rawServer in place of the real adapter.
type rawPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *rawServer
}

func (p *rawPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	fmimagepb.RegisterGeneratorServer(s, p.srv)
	return nil
}

func (p *rawPlugin) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return (&sdk.GRPCPlugin{}).GRPCClient(ctx, b, c)
}

func TestClientRejectsBadChunks(t *testing.T) {
	chunk := func(index, offset int, data string, last bool) *fmimagepb.ImageChunk {
		return &fmimagepb.ImageChunk{Index: int32(index), Width: 1, Height: 1, Offset: int64(offset), Data: []byte(data), Last: last}
	}
	tests := []struct {
		name    string
		chunks  []*fmimagepb.ImageChunk
		wantErr string // "" = success
	}{
		{"two images, split", []*fmimagepb.ImageChunk{chunk(1, 0, "ab", false), chunk(1, 2, "c", true), chunk(0, 0, "x", true)}, ""},
		{"index out of range", []*fmimagepb.ImageChunk{chunk(2, 0, "a", true)}, "plugin sent image index 2, want 0..1"},
		{"duplicate", []*fmimagepb.ImageChunk{chunk(0, 0, "a", true), chunk(0, 0, "a", true)}, "plugin sent image 0 twice"},
		{"gap", []*fmimagepb.ImageChunk{chunk(0, 0, "a", false), chunk(0, 5, "b", true)}, "at offset 5 while image 0 had 1 bytes"},
		{"interleaved", []*fmimagepb.ImageChunk{chunk(0, 0, "a", false), chunk(1, 0, "b", true)}, "chunk of image 1"},
		{"truncated", []*fmimagepb.ImageChunk{chunk(0, 0, "a", true), chunk(1, 0, "b", false)}, "stream ended inside image 1"},
		{"missing image", []*fmimagepb.ImageChunk{chunk(0, 0, "a", true)}, "plugin returned 1 images, want 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
				sdk.PluginName: &rawPlugin{srv: &rawServer{chunks: tc.chunks}},
			})
			t.Cleanup(func() { server.Stop(); _ = client.Close() })
			raw, err := client.Dispense(sdk.PluginName)
			if err != nil {
				t.Fatal(err)
			}
			images, err := raw.(sdk.Generator).Generate(context.Background(), sdk.GenerateRequest{ModelDir: "m", N: 2, Steps: 1}, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(images) != 2 || string(images[0].PNG) != "x" || string(images[1].PNG) != "abc" || images[1].Index != 1 {
					t.Fatalf("images = %+v", images)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
