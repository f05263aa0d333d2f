package bgp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Why a gRPC stream inside the process: GoBGP v3's only batched way to add
// paths is its gRPC AddPathStream (BgpServer.addPathStream is unexported).
// AddPath costs a round trip through GoBGP's main loop, a random UUID and
// a formatted map key per path (the UUID map alone holds about 100 MB for
// a million paths); a stream of batches makes one trip per batch and
// keeps no UUIDs. The socket is in a private directory (0700) and lives
// only as long as the announcer.

// streamBatch is how many paths go in one request: one trip through
// GoBGP's main loop each, short enough not to hold it for long.
const streamBatch = 2000

// pathStream is the client end of the in-process gRPC API.
type pathStream struct {
	dir    string
	conn   *grpc.ClientConn
	client api.GobgpApiClient
}

// streamDir makes the private directory for the API socket.
func streamDir() (dir, addr string, err error) {
	dir, err = os.MkdirTemp("", "uplinkd-announce-")
	if err != nil {
		return "", "", fmt.Errorf("make api socket directory: %w", err)
	}
	return dir, "unix://" + filepath.Join(dir, "gobgp.sock"), nil
}

// dialStream connects once GoBGP's listener, which it opens on its own
// goroutine, accepts. The socket's file appears at bind(2), before
// listen(2): a connect in between is refused, and gRPC's first call then
// fails at once ("connection refused", seen in CI), so a plain connect
// must succeed first.
func dialStream(ctx context.Context, dir string) (*pathStream, error) {
	sock := filepath.Join(dir, "gobgp.sock")
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("api socket %s does not accept: %w", sock, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	conn, err := grpc.DialContext(ctx, "unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial api socket: %w", err)
	}
	return &pathStream{dir: dir, conn: conn, client: api.NewGobgpApiClient(conn)}, nil
}

func (s *pathStream) close() {
	if s.conn != nil {
		s.conn.Close()
	}
	os.RemoveAll(s.dir)
}

// send streams paths for prefixes, built by mk, in batches. GoBGP answers
// only at the end, so on error it is unknown how many went in.
func (s *pathStream) send(ctx context.Context, prefixes []netip.Prefix, mk func(netip.Prefix) *api.Path) error {
	if len(prefixes) == 0 {
		return nil
	}
	grpcMu.Lock()
	defer grpcMu.Unlock()
	stream, err := s.client.AddPathStream(ctx)
	if err != nil {
		return fmt.Errorf("open path stream: %w", err)
	}
	batch := make([]*api.Path, 0, streamBatch)
	var sendErr error
	for i, p := range prefixes {
		batch = append(batch, mk(p))
		if len(batch) == streamBatch || i == len(prefixes)-1 {
			if sendErr = stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: batch}); sendErr != nil {
				break
			}
			batch = make([]*api.Path, 0, streamBatch)
		}
	}
	if errors.Is(sendErr, io.EOF) {
		sendErr = nil // GoBGP ended the stream; CloseAndRecv says why
	}
	_, err = stream.CloseAndRecv()
	if err = errors.Join(sendErr, err); err != nil {
		return fmt.Errorf("path stream: %w", err)
	}
	return nil
}
