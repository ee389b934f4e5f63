package dispatch

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// EncodingGzipJSON is how RenderedObjects are written.
const EncodingGzipJSON = "gzip+json"

// MaxRenderedBytes bounds what a revision keeps of its rendered objects (compressed), well under
// the API server's 1.5 MiB object limit with the rest of the revision.
const MaxRenderedBytes = 768 << 10

// RenderedObject is one object a delivery step applies on the hub: the object itself for the
// hub cluster, a ManifestWork for a managed cluster.
type RenderedObject struct {
	Step    string         `json:"step"`
	Cluster string         `json:"cluster"`
	Object  map[string]any `json:"object"`
}

// EncodeRendered compresses objects for an ApplicationRevision. It refuses more than
// MaxRenderedBytes.
func EncodeRendered(objects []RenderedObject) (*v1beta1.RenderedObjects, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(objects); err != nil {
		return nil, fmt.Errorf("encode rendered objects: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress rendered objects: %w", err)
	}
	if buf.Len() > MaxRenderedBytes {
		return nil, fmt.Errorf("the rendered objects take %d KiB compressed, more than a revision keeps (%d KiB)", buf.Len()>>10, MaxRenderedBytes>>10)
	}
	return &v1beta1.RenderedObjects{Encoding: EncodingGzipJSON, Objects: len(objects), Data: buf.Bytes()}, nil
}

// DecodeRendered reads what EncodeRendered wrote.
func DecodeRendered(r *v1beta1.RenderedObjects) ([]RenderedObject, error) {
	if r == nil {
		return nil, nil
	}
	if r.Encoding != EncodingGzipJSON {
		return nil, fmt.Errorf("rendered objects: unknown encoding %q", r.Encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Data))
	if err != nil {
		return nil, fmt.Errorf("rendered objects: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("rendered objects: %w", err)
	}
	var out []RenderedObject
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("rendered objects: %w", err)
	}
	return out, nil
}
