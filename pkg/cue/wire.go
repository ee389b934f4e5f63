package cue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// The wire format of Requests and Responses between a process and its Sandbox: fields in a
// fixed order, lengths and integers as varints, and plain Go data (what templates take and
// renders give: nil, bool, numbers, strings, maps and lists) tagged with its exact Go type, so
// that a value arrives as it was sent (an int64 stays an int64, a float 3.0 stays a float, an
// empty list stays empty and a nil map nil). encoding/gob does not keep the last two, and
// spends most of a sandboxed render's overhead on reflection.

// Value tags.
const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagInt32
	tagInt64
	tagUint64
	tagFloat32
	tagFloat64
	tagString
	tagMap
	tagNilMap
	tagList
	tagNilList
	tagStrings
	tagStringMap
)

// maxWireDepth bounds nesting, as toExpr does.
const maxWireDepth = 200

// encoder writes the wire format. With sorted, maps are written with their keys in order, so
// that equal values write equal bytes (render keys hash them); otherwise in Go's map order.
type encoder struct {
	b      []byte
	sorted bool
}

func (e *encoder) uvarint(x uint64) { e.b = binary.AppendUvarint(e.b, x) }
func (e *encoder) varint(x int64)   { e.b = binary.AppendVarint(e.b, x) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) flag(b bool) {
	if b {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// errNestedTooDeeply refuses values nested past maxWireDepth.
var errNestedTooDeeply = errors.New("value nested too deeply")

func (e *encoder) value(v any, depth int) error {
	if depth > maxWireDepth {
		return errNestedTooDeeply
	}
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, tagNil)
	case bool:
		if x {
			e.b = append(e.b, tagTrue)
		} else {
			e.b = append(e.b, tagFalse)
		}
	case int:
		e.b = append(e.b, tagInt)
		e.varint(int64(x))
	case int32:
		e.b = append(e.b, tagInt32)
		e.varint(int64(x))
	case int64:
		e.b = append(e.b, tagInt64)
		e.varint(x)
	case uint64:
		e.b = append(e.b, tagUint64)
		e.uvarint(x)
	case float32:
		e.b = append(e.b, tagFloat32)
		e.uvarint(uint64(math.Float32bits(x)))
	case float64:
		e.b = append(e.b, tagFloat64)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x))
	case string:
		e.b = append(e.b, tagString)
		e.str(x)
	case map[string]any:
		return e.object(x, depth)
	case []any:
		if x == nil {
			e.b = append(e.b, tagNilList)
			return nil
		}
		e.b = append(e.b, tagList)
		e.uvarint(uint64(len(x)))
		for _, el := range x {
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
	case []string:
		e.b = append(e.b, tagStrings)
		e.strs(x)
	case map[string]string:
		e.b = append(e.b, tagStringMap)
		e.stringMap(x)
	default:
		return fmt.Errorf("cannot send a value of type %T", v)
	}
	return nil
}

func (e *encoder) object(m map[string]any, depth int) error {
	if m == nil {
		e.b = append(e.b, tagNilMap)
		return nil
	}
	e.b = append(e.b, tagMap)
	e.uvarint(uint64(len(m)))
	if e.sorted {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e.str(k)
			if err := e.value(m[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for k, v := range m {
		e.str(k)
		if err := e.value(v, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) stringMap(m map[string]string) {
	e.flag(m != nil)
	e.uvarint(uint64(len(m)))
	if e.sorted {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e.str(k)
			e.str(m[k])
		}
		return
	}
	for k, v := range m {
		e.str(k)
		e.str(v)
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("malformed sandbox message: "+format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad length")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad integer")
		return 0
	}
	d.b = d.b[n:]
	return x
}

// count reads a length and checks it against what is left (each element takes a byte at least).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length %d past the end", n)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) flag() bool { return d.byte() == 1 }

func (d *decoder) strs() []string {
	n := d.count()
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.str())
	}
	return out
}

func (d *decoder) value(depth int) any {
	if depth > maxWireDepth {
		d.fail("nested too deeply")
		return nil
	}
	switch tag := d.byte(); tag {
	case tagNil:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		return int(d.varint())
	case tagInt32:
		return int32(d.varint())
	case tagInt64:
		return d.varint()
	case tagUint64:
		return d.uvarint()
	case tagFloat32:
		return math.Float32frombits(uint32(d.uvarint()))
	case tagFloat64:
		if len(d.b) < 8 {
			d.fail("truncated")
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f
	case tagString:
		return d.str()
	case tagMap:
		return d.mapBody(depth)
	case tagNilMap:
		return map[string]any(nil)
	case tagList:
		n := d.count()
		out := make([]any, 0, n)
		for range n {
			out = append(out, d.value(depth+1))
		}
		return out
	case tagNilList:
		return []any(nil)
	case tagStrings:
		return d.strs()
	case tagStringMap:
		return d.stringMap()
	default:
		d.fail("unknown tag %d", tag)
		return nil
	}
}

func (d *decoder) mapBody(depth int) map[string]any {
	n := d.count()
	out := make(map[string]any, n)
	for range n {
		k := d.str()
		out[k] = d.value(depth + 1)
		if d.err != nil {
			return nil
		}
	}
	return out
}

// object reads what encoder.object wrote.
func (d *decoder) object() map[string]any {
	switch tag := d.byte(); tag {
	case tagNilMap:
		return nil
	case tagMap:
		return d.mapBody(0)
	default:
		d.fail("want an object, got tag %d", tag)
		return nil
	}
}

func (d *decoder) stringMap() map[string]string {
	present := d.flag()
	n := d.count()
	if !present {
		return nil
	}
	out := make(map[string]string, n)
	for range n {
		k := d.str()
		out[k] = d.str()
	}
	return out
}

// MarshalBinary encodes the request in the sandbox wire format.
func (req *Request) MarshalBinary() ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 1024)}
	e.str(string(req.Op))
	e.str(string(req.Validation))
	e.source(req.Source)
	if err := e.input(req.Input); err != nil {
		return nil, err
	}
	e.uvarint(uint64(len(req.Fills)))
	for _, f := range req.Fills {
		e.str(f.Path)
		e.str(f.Field)
		if err := e.value(f.Value, 0); err != nil {
			return nil, err
		}
	}
	e.uvarint(uint64(len(req.Chain)))
	for _, s := range req.Chain {
		e.source(s.Source)
		if err := e.object(s.Parameter, 0); err != nil {
			return nil, err
		}
	}
	e.str(req.Expr)
	if err := e.object(req.Vars, 0); err != nil {
		return nil, err
	}
	e.str(req.Name)
	e.str(req.Status.HealthPolicy)
	e.str(req.Status.CustomStatus)
	e.str(req.Status.Details)
	for _, m := range []map[string]any{req.StatusInput.Output, req.StatusInput.Outputs, req.StatusInput.Parameter} {
		if err := e.object(m, 0); err != nil {
			return nil, err
		}
	}
	if err := e.context(req.StatusInput.Context); err != nil {
		return nil, err
	}
	return e.b, nil
}

// UnmarshalBinary decodes a request MarshalBinary encoded.
func (req *Request) UnmarshalBinary(data []byte) error {
	d := &decoder{b: data}
	*req = Request{Op: Op(d.str()), Validation: Validation(d.str()), Source: d.source(), Input: d.input()}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		req.Fills = append(req.Fills, Fill{Path: d.str(), Field: d.str(), Value: d.value(0)})
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		req.Chain = append(req.Chain, WireStep{Source: d.source(), Parameter: d.object()})
	}
	req.Expr = d.str()
	req.Vars = d.object()
	req.Name = d.str()
	req.Status = StatusTemplates{HealthPolicy: d.str(), CustomStatus: d.str(), Details: d.str()}
	req.StatusInput = StatusInput{Output: d.object(), Outputs: d.object(), Parameter: d.object(), Context: d.context()}
	return d.done()
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes left over", len(d.b))
	}
	return d.err
}

func (e *encoder) source(s Source) {
	e.str(s.Name)
	e.str(s.Filename)
	e.str(s.Text)
	e.flag(s.Snippet)
	e.uvarint(uint64(len(s.Packages)))
	for _, p := range s.Packages {
		e.str(p.ImportPath)
		e.str(p.Filename)
		e.str(p.Text)
	}
	e.str(s.Key)
}

func (d *decoder) source() Source {
	s := Source{Name: d.str(), Filename: d.str(), Text: d.str(), Snippet: d.flag()}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		s.Packages = append(s.Packages, Package{ImportPath: d.str(), Filename: d.str(), Text: d.str()})
	}
	s.Key = d.str()
	return s
}

func (e *encoder) input(in Input) error {
	if err := e.object(in.Parameter, 0); err != nil {
		return err
	}
	return e.context(in.Context)
}

func (d *decoder) input() Input {
	return Input{Parameter: d.object(), Context: d.context()}
}

func (e *encoder) context(c Context) error {
	for _, s := range []string{c.Name, c.AppName, c.Namespace, c.Cluster, c.AppRevision} {
		e.str(s)
	}
	e.varint(c.AppRevisionNum)
	e.str(c.Revision)
	for _, m := range []map[string]any{c.Output, c.Outputs, c.Components} {
		if err := e.object(m, 0); err != nil {
			return err
		}
	}
	e.stringMap(c.AppLabels)
	e.stringMap(c.AppAnnotations)
	e.str(c.WorkflowName)
	e.str(c.PublishVersion)
	e.str(c.ClusterVersion.Major)
	e.varint(c.ClusterVersion.Minor)
	e.str(c.ClusterVersion.GitVersion)
	e.str(c.ClusterVersion.Platform)
	e.str(c.ReplicaKey)
	return e.object(c.Extra, 0)
}

func (d *decoder) context() Context {
	c := Context{Name: d.str(), AppName: d.str(), Namespace: d.str(), Cluster: d.str(), AppRevision: d.str(),
		AppRevisionNum: d.varint(), Revision: d.str(), Output: d.object(), Outputs: d.object(), Components: d.object(),
		AppLabels: d.stringMap(), AppAnnotations: d.stringMap(), WorkflowName: d.str(), PublishVersion: d.str()}
	c.ClusterVersion = ClusterVersion{Major: d.str(), Minor: d.varint(), GitVersion: d.str(), Platform: d.str()}
	c.ReplicaKey = d.str()
	c.Extra = d.object()
	return c
}

// MarshalBinary encodes the response in the sandbox wire format.
func (resp *Response) MarshalBinary() ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 4096)}
	if err := e.result(resp.Result); err != nil {
		return nil, err
	}
	e.uvarint(uint64(len(resp.Actions)))
	for _, a := range resp.Actions {
		e.str(a.Path)
		e.str(a.Do)
		if err := e.object(a.Fields, 0); err != nil {
			return nil, err
		}
		e.str(a.Incomplete)
	}
	if err := e.object(resp.Value, 0); err != nil {
		return nil, err
	}
	if err := e.value(resp.Eval, 0); err != nil {
		return nil, err
	}
	e.flag(resp.Status != nil)
	if resp.Status != nil {
		e.flag(resp.Status.Healthy)
		e.str(resp.Status.Message)
		e.stringMap(resp.Status.Details)
	}
	e.flag(resp.Err != nil)
	if w := resp.Err; w != nil {
		e.flag(w.Parameter != nil)
		if w.Parameter != nil {
			e.str(w.Parameter.Template)
			e.fieldErrors(w.Parameter.Errors)
		}
		e.flag(w.Template != nil)
		if w.Template != nil {
			e.str(w.Template.Template)
			e.str(w.Template.Op)
			e.strs(w.Template.Details)
		}
		e.str(w.Message)
	}
	e.flag(resp.NeedSource)
	e.uvarint(uint64(len(resp.Chain)))
	for _, p := range resp.Chain {
		e.b = append(e.b, p.Key[:]...)
		if err := e.result(p.Result); err != nil {
			return nil, err
		}
	}
	return e.b, nil
}

// UnmarshalBinary decodes a response MarshalBinary encoded.
func (resp *Response) UnmarshalBinary(data []byte) error {
	d := &decoder{b: data}
	*resp = Response{Result: d.result()}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		resp.Actions = append(resp.Actions, WireAction{Path: d.str(), Do: d.str(), Fields: d.object(), Incomplete: d.str()})
	}
	resp.Value = d.object()
	resp.Eval = d.value(0)
	if d.flag() {
		resp.Status = &Status{Healthy: d.flag(), Message: d.str(), Details: d.stringMap()}
	}
	if d.flag() {
		w := &WireError{}
		if d.flag() {
			w.Parameter = &ParameterError{Template: d.str(), Errors: d.fieldErrors()}
		}
		if d.flag() {
			w.Template = &TemplateError{Template: d.str(), Op: d.str(), Details: d.strs()}
		}
		w.Message = d.str()
		resp.Err = w
	}
	resp.NeedSource = d.flag()
	for n := d.count(); n > 0 && d.err == nil; n-- {
		var p Prerendered
		if len(d.b) < len(p.Key) {
			d.fail("truncated")
			break
		}
		copy(p.Key[:], d.b)
		d.b = d.b[len(p.Key):]
		p.Result = d.result()
		resp.Chain = append(resp.Chain, p)
	}
	return d.done()
}

func (e *encoder) fieldErrors(errs []FieldError) {
	e.uvarint(uint64(len(errs)))
	for _, f := range errs {
		e.strs(f.Path)
		e.str(f.Message)
		e.flag(f.Unknown)
		e.flag(f.Missing)
	}
}

func (d *decoder) fieldErrors() []FieldError {
	var out []FieldError
	for n := d.count(); n > 0 && d.err == nil; n-- {
		out = append(out, FieldError{Path: d.strs(), Message: d.str(), Unknown: d.flag(), Missing: d.flag()})
	}
	return out
}

func (e *encoder) result(r *WireResult) error {
	e.flag(r != nil)
	if r == nil {
		return nil
	}
	if err := e.object(r.Output, 0); err != nil {
		return err
	}
	e.uvarint(uint64(len(r.Outputs)))
	for _, o := range r.Outputs {
		e.str(o.Name)
		if err := e.object(o.Object, 0); err != nil {
			return err
		}
	}
	e.flag(r.HasPatch)
	for _, m := range []map[string]any{r.Patch, r.PatchEach} {
		if err := e.object(m, 0); err != nil {
			return err
		}
	}
	e.flag(r.PatchOutputs != nil)
	e.uvarint(uint64(len(r.PatchOutputs)))
	for name, m := range r.PatchOutputs {
		e.str(name)
		if err := e.object(m, 0); err != nil {
			return err
		}
	}
	e.uvarint(uint64(len(r.References)))
	for _, m := range r.References {
		if err := e.object(m, 0); err != nil {
			return err
		}
	}
	e.fieldErrors(r.Warnings)
	return nil
}

func (d *decoder) result() *WireResult {
	if !d.flag() {
		return nil
	}
	r := &WireResult{Output: d.object()}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		r.Outputs = append(r.Outputs, NamedObject{Name: d.str(), Object: d.object()})
	}
	r.HasPatch = d.flag()
	r.Patch = d.object()
	r.PatchEach = d.object()
	hasPatchOutputs := d.flag()
	n := d.count()
	if hasPatchOutputs {
		r.PatchOutputs = make(map[string]map[string]any, n)
	} else if n > 0 {
		d.fail("patch outputs without a map")
		return nil
	}
	for ; n > 0 && d.err == nil; n-- {
		name := d.str()
		r.PatchOutputs[name] = d.object()
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		r.References = append(r.References, d.object())
	}
	r.Warnings = d.fieldErrors()
	return r
}
