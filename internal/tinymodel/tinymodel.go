// Package tinymodel writes a tiny llama-architecture GGUF model with
// deterministic random weights, small enough (well under 1 MB) to be created
// in a real Ollama and run in tests on any machine without downloading a
// real model.
//
// The model has a 512-token SentencePiece-style vocabulary ("<unk>", "<s>",
// "</s>", the 256 byte tokens "<0x00>".."<0xFF>" and printable pieces such as
// "▁the"), embedding width 64, 2 layers, 4 attention heads (2 key/value
// heads), a feed-forward width of 128 and a context length of 2048. The
// weights are random, so the text it generates is gibberish, but the
// generator arranges the weights so that the control tokens (unknown, BOS,
// EOS) practically never win the sampling: a chat request runs until
// num_predict tokens have been generated.
//
// Write and WriteFile use only the standard library; Register talks to a
// running Ollama through github.com/ollama/ollama/api.
package tinymodel

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Model dimensions of the built-in tiny model. Tests and callers rely on a
// model this small, and Ollama's memory estimates stay tiny; Options.Dim,
// Blocks and FFN write a larger one of the same shape (a GPU check needs a
// model big enough for VRAM to move visibly).
const (
	VocabSize     = 512
	EmbeddingDim  = 64
	BlockCount    = 2
	HeadCount     = 4
	HeadCountKV   = 2
	FFNDim        = 128
	ContextLength = 2048

	alignment = 32

	// Token ids of the control tokens.
	UnknownTokenID = 0
	BOSTokenID     = 1
	EOSTokenID     = 2
)

// DefaultName is the general.name written when Options.Name is empty.
const DefaultName = "cocoon-tiny"

// Options selects the variant of the model to write.
type Options struct {
	// Seed seeds the weights; the same seed (and options) give the same bytes.
	Seed uint64
	// Name is written as general.name; DefaultName when empty.
	Name string
	// F16 stores the weight matrices as F16 instead of F32 (norm vectors stay
	// F32, as in real models). The file is then about half the size.
	F16 bool
	// Dim, Blocks and FFN override the embedding width (a multiple of
	// 2×HeadCount), the number of blocks and the feed-forward width; zero
	// keeps EmbeddingDim, BlockCount and FFNDim. Weights grow as
	// Blocks × (2 + 2×HeadCountKV/HeadCount) × Dim² + 3 × Blocks × Dim × FFN.
	Dim, Blocks, FFN int
}

// shape is the model's dimensions after defaults.
type shape struct{ dim, blocks, ffn, headDim, kvDim int }

func (o Options) shape() shape {
	s := shape{dim: o.Dim, blocks: o.Blocks, ffn: o.FFN}
	if s.dim == 0 {
		s.dim = EmbeddingDim
	}
	if s.blocks == 0 {
		s.blocks = BlockCount
	}
	if s.ffn == 0 {
		s.ffn = FFNDim
	}
	s.headDim = s.dim / HeadCount
	s.kvDim = HeadCountKV * s.headDim
	return s
}

// check rejects dimensions Ollama's llama runner cannot load.
func (o Options) check() error {
	s := o.shape()
	if s.dim <= 0 || s.dim%(2*HeadCount) != 0 || s.blocks <= 0 || s.ffn <= 0 {
		return fmt.Errorf("tinymodel: dim %d must be a positive multiple of %d, blocks %d and ffn %d positive", s.dim, 2*HeadCount, s.blocks, s.ffn)
	}
	return nil
}

// WeightBytes is about how large the model file of o is.
func (o Options) WeightBytes() int64 {
	s := o.shape()
	per := int64(2)
	if !o.F16 {
		per = 4
	}
	params := int64(2*VocabSize*s.dim) + int64(s.blocks)*(int64(2*s.dim*s.dim)+int64(2*s.dim*s.kvDim)+int64(3*s.dim*s.ffn))
	return params * per
}

// GGUF metadata value types.
const (
	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9
)

// ggml tensor types.
const (
	ggmlF32 = 0
	ggmlF16 = 1
)

// Token types as used by llama.cpp (tokenizer.ggml.token_type).
const (
	tokenNormal  = 1
	tokenUnknown = 2
	tokenControl = 3
	tokenByte    = 6
)

type kv struct {
	key string
	val any // uint32, int32, float32, bool, string, []string, []float32, []int32
}

type tensor struct {
	name string
	dims []uint64 // ggml order: dims[0] is the innermost (contiguous) dimension
	typ  uint32
	data []float32
}

func (t *tensor) byteSize() uint64 {
	n := uint64(len(t.data))
	if t.typ == ggmlF16 {
		return 2 * n
	}
	return 4 * n
}

// Vocabulary returns the model's 512 token strings, their scores and their
// token types, in token-id order.
func Vocabulary() (tokens []string, scores []float32, types []int32) {
	tokens = append(tokens, "<unk>", "<s>", "</s>")
	scores = append(scores, 0, 0, 0)
	types = append(types, tokenUnknown, tokenControl, tokenControl)
	for b := 0; b < 256; b++ {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		scores = append(scores, 0)
		types = append(types, tokenByte)
	}
	seen := make(map[string]bool, VocabSize)
	for _, t := range tokens {
		seen[t] = true
	}
	add := func(piece string) {
		if len(tokens) >= VocabSize || seen[piece] {
			return
		}
		seen[piece] = true
		tokens = append(tokens, piece)
		// SentencePiece scores: more common pieces (earlier) score higher.
		scores = append(scores, -float32(len(tokens)-259))
		types = append(types, tokenNormal)
	}
	const sp = "▁"
	words := strings.Fields(`the of and to in is you that it he was for on are as with his they at be
		this have from or one had by word but not what all were we when your can said there use an each
		which she do how their if will up other about out many then them these so some her would make like
		him into time has look two more write go see number no way could people my than first water been
		call who its now find long down day did get come made may part hello world model cocoon desktop
		user assistant good new just know work year over think also back after only most very well here
		why ask went men read need land different home us move try kind hand picture again change off play
		spell air away animal house point page letter mother answer found study still learn should`)
	add(sp)
	for _, w := range words {
		add(sp + w)
	}
	for c := 'a'; c <= 'z'; c++ {
		add(sp + string(c))
		add(string(c))
	}
	for c := 'A'; c <= 'Z'; c++ {
		add(string(c))
	}
	for c := '0'; c <= '9'; c++ {
		add(string(c))
	}
	for _, p := range strings.Split(". , ! ? : ; ' \" - ( ) [ ] / * + = _ # & %", " ") {
		add(p)
	}
	for _, bg := range strings.Fields("th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce") {
		add(bg)
	}
	// Fill what is left with two-letter word pieces, deterministically.
	for a := 'a'; a <= 'z' && len(tokens) < VocabSize; a++ {
		for b := 'a'; b <= 'z' && len(tokens) < VocabSize; b++ {
			add(sp + string(a) + string(b))
		}
	}
	return tokens, scores, types
}

func buildTensors(opts Options) []*tensor {
	sh := opts.shape()
	dim, kvDim := sh.dim, sh.kvDim
	rng := rand.New(rand.NewPCG(opts.Seed, 0x636f636f6f6e)) // "cocoon"
	wtype := uint32(ggmlF32)
	if opts.F16 {
		wtype = ggmlF16
	}
	normal := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(1 + rng.NormFloat64()*0.01)
		}
		return v
	}
	// mat makes a weight for y = W·x with len(x)=in, len(y)=out: ggml dims
	// [in, out], stored as out rows of in contiguous values.
	mat := func(name string, in, out int, std float64) *tensor {
		return &tensor{name: name, dims: []uint64{uint64(in), uint64(out)}, typ: wtype, data: normal(in*out, std)}
	}
	vec := func(name string, n int) *tensor {
		return &tensor{name: name, dims: []uint64{uint64(n)}, typ: ggmlF32, data: ones(n)}
	}

	// Token embeddings: N(0, 1) in every dimension except dimension 0, which
	// is a constant "bias" channel. The layers add only small values to the
	// residual stream, so after the final RMS norm dimension 0 is large and
	// positive for every position; the output rows of the control tokens get
	// a large negative weight there, which keeps their logits far below the
	// others and so keeps generation from ever stopping on EOS.
	embd := mat("token_embd.weight", dim, VocabSize, 1)
	for tok := 0; tok < VocabSize; tok++ {
		embd.data[tok*dim] = 4
	}
	output := mat("output.weight", dim, VocabSize, 0.5)
	for tok := 0; tok < VocabSize; tok++ {
		output.data[tok*dim] = 0
	}
	for _, tok := range []int{UnknownTokenID, BOSTokenID, EOSTokenID} {
		row := output.data[tok*dim : (tok+1)*dim]
		for i := range row {
			row[i] = 0
		}
		row[0] = -8
	}

	ts := []*tensor{embd}
	for i := 0; i < sh.blocks; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			vec(p+"attn_norm.weight", dim),
			mat(p+"attn_q.weight", dim, dim, 0.02),
			mat(p+"attn_k.weight", dim, kvDim, 0.02),
			mat(p+"attn_v.weight", dim, kvDim, 0.02),
			mat(p+"attn_output.weight", dim, dim, 0.02),
			vec(p+"ffn_norm.weight", dim),
			mat(p+"ffn_gate.weight", dim, sh.ffn, 0.02),
			mat(p+"ffn_up.weight", dim, sh.ffn, 0.02),
			mat(p+"ffn_down.weight", sh.ffn, dim, 0.02),
		)
	}
	ts = append(ts, vec("output_norm.weight", dim), output)
	return ts
}

func metadata(opts Options) []kv {
	sh := opts.shape()
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	fileType := uint32(0) // LLAMA_FTYPE_ALL_F32
	if opts.F16 {
		fileType = 1 // LLAMA_FTYPE_MOSTLY_F16
	}
	tokens, scores, types := Vocabulary()
	return []kv{
		{"general.architecture", "llama"},
		{"general.name", name},
		{"general.file_type", fileType},
		{"general.alignment", uint32(alignment)},
		{"llama.vocab_size", uint32(VocabSize)},
		{"llama.context_length", uint32(ContextLength)},
		{"llama.embedding_length", uint32(sh.dim)},
		{"llama.block_count", uint32(sh.blocks)},
		{"llama.feed_forward_length", uint32(sh.ffn)},
		{"llama.attention.head_count", uint32(HeadCount)},
		{"llama.attention.head_count_kv", uint32(HeadCountKV)},
		{"llama.attention.key_length", uint32(sh.headDim)},
		{"llama.attention.value_length", uint32(sh.headDim)},
		{"llama.rope.dimension_count", uint32(sh.headDim)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(BOSTokenID)},
		{"tokenizer.ggml.eos_token_id", uint32(EOSTokenID)},
		{"tokenizer.ggml.unknown_token_id", uint32(UnknownTokenID)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}
}

// ggufWriter accumulates little-endian GGUF output and the first error.
type ggufWriter struct {
	w   *bufio.Writer
	n   uint64
	err error
}

func (g *ggufWriter) bytes(b []byte) {
	if g.err != nil {
		return
	}
	var n int
	n, g.err = g.w.Write(b)
	g.n += uint64(n)
}

func (g *ggufWriter) u32(v uint32) { g.bytes(binary.LittleEndian.AppendUint32(nil, v)) }
func (g *ggufWriter) u64(v uint64) { g.bytes(binary.LittleEndian.AppendUint64(nil, v)) }
func (g *ggufWriter) str(s string) { g.u64(uint64(len(s))); g.bytes([]byte(s)) }

func (g *ggufWriter) pad() {
	if r := g.n % alignment; r != 0 {
		g.bytes(make([]byte, alignment-r))
	}
}

func (g *ggufWriter) value(v any) {
	switch v := v.(type) {
	case uint32:
		g.u32(ggufUint32)
		g.u32(v)
	case int32:
		g.u32(ggufInt32)
		g.u32(uint32(v))
	case float32:
		g.u32(ggufFloat32)
		g.u32(math.Float32bits(v))
	case bool:
		g.u32(ggufBool)
		if v {
			g.bytes([]byte{1})
		} else {
			g.bytes([]byte{0})
		}
	case string:
		g.u32(ggufString)
		g.str(v)
	case []string:
		g.u32(ggufArray)
		g.u32(ggufString)
		g.u64(uint64(len(v)))
		for _, s := range v {
			g.str(s)
		}
	case []float32:
		g.u32(ggufArray)
		g.u32(ggufFloat32)
		g.u64(uint64(len(v)))
		for _, f := range v {
			g.u32(math.Float32bits(f))
		}
	case []int32:
		g.u32(ggufArray)
		g.u32(ggufInt32)
		g.u64(uint64(len(v)))
		for _, i := range v {
			g.u32(uint32(i))
		}
	default:
		if g.err == nil {
			g.err = fmt.Errorf("tinymodel: unsupported metadata type %T", v)
		}
	}
}

// Write writes the GGUF v3 file of the tiny model to w.
func Write(w io.Writer, opts Options) error {
	if err := opts.check(); err != nil {
		return err
	}
	kvs := metadata(opts)
	ts := buildTensors(opts)
	g := &ggufWriter{w: bufio.NewWriterSize(w, 64<<10)}

	g.bytes([]byte("GGUF"))
	g.u32(3)
	g.u64(uint64(len(ts)))
	g.u64(uint64(len(kvs)))
	for _, e := range kvs {
		g.str(e.key)
		g.value(e.val)
	}
	var offset uint64
	for _, t := range ts {
		g.str(t.name)
		g.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			g.u64(d)
		}
		g.u32(t.typ)
		g.u64(offset)
		offset += t.byteSize()
		offset = (offset + alignment - 1) / alignment * alignment
	}
	g.pad()
	buf := make([]byte, 0, 4*opts.shape().dim*VocabSize)
	for _, t := range ts {
		buf = buf[:0]
		for _, f := range t.data {
			if t.typ == ggmlF16 {
				buf = binary.LittleEndian.AppendUint16(buf, float32ToF16(f))
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
			}
		}
		g.bytes(buf)
		g.pad()
	}
	if g.err != nil {
		return g.err
	}
	return g.w.Flush()
}

// WriteFile writes the tiny model to path (creating its directory), via a
// temporary file renamed into place.
func WriteFile(path string, opts Options) error {
	return writeAtomic(path, func(w io.Writer) error { return Write(w, opts) })
}

// writeAtomic writes path (creating its directory) with write, through a
// temporary file renamed into place, so a reader never sees half a file.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tinymodel-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Template is the chat template of the tiny model (Ollama's Go template
// syntax): one "role: content" line per message, then "assistant: ".
const Template = "{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant: "

// Parameters are the model parameters registered with the model: one CPU
// thread (on small machines more threads collapse token speed under any
// other load) and a small context for speed.
func Parameters() map[string]any {
	return map[string]any{
		"num_thread": 1,
		"num_ctx":    512,
	}
}

// Modelfile returns an Ollama Modelfile for the GGUF file at ggufPath, for
// use with `ollama create NAME -f Modelfile`.
func Modelfile(ggufPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FROM %s\n", ggufPath)
	b.WriteString("PARAMETER num_thread 1\n")
	b.WriteString("PARAMETER num_ctx 512\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", Template)
	return b.String()
}

// float32ToF16 converts f to IEEE 754 half precision, rounding to nearest
// even.
func float32ToF16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // overflow
		return sign | 0x7c00
	case exp-127+15 <= 0: // subnormal or zero
		e := exp - 127 + 15
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	default:
		e := uint32(exp - 127 + 15)
		r := e<<10 | mant>>13
		rem := mant & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
			r++ // may carry into the exponent, which is correct rounding
		}
		return sign | uint16(r)
	}
}
