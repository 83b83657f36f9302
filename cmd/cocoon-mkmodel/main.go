// Command cocoon-mkmodel writes the tiny random-weight llama GGUF model used
// in Cocoon Desktop's tests and demos, and optionally registers it in a
// running Ollama.
//
// Usage:
//
//	cocoon-mkmodel -out FILE [-seed N] [-f16] [-dim N -blocks N -ffn N] [-register NAME -host http://127.0.0.1:PORT]
//
// -dim, -blocks and -ffn write a larger model of the same shape (e.g. -f16
// -dim 2048 -blocks 16 -ffn 8192 is about 2 GB), big enough for VRAM to move
// visibly on a real GPU.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
)

func main() {
	out := flag.String("out", "", "path of the GGUF file to write (required)")
	seed := flag.Uint64("seed", 1, "seed of the random weights")
	f16 := flag.Bool("f16", false, "store weight matrices as F16 instead of F32")
	dim := flag.Int("dim", 0, "embedding width (default: the tiny model's)")
	blocks := flag.Int("blocks", 0, "number of blocks (default: the tiny model's)")
	ffn := flag.Int("ffn", 0, "feed-forward width (default: the tiny model's)")
	name := flag.String("register", "", "also register the model in Ollama under this name")
	host := flag.String("host", "http://127.0.0.1:11434", "Ollama base URL, used with -register")
	modelfile := flag.Bool("modelfile", false, "also write FILE.Modelfile for `ollama create`")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	opts := tinymodel.Options{Seed: *seed, F16: *f16, Dim: *dim, Blocks: *blocks, FFN: *ffn}
	if err := run(*out, opts, *name, *host, *modelfile); err != nil {
		fmt.Fprintln(os.Stderr, "cocoon-mkmodel:", err)
		os.Exit(1)
	}
}

func run(out string, opts tinymodel.Options, name, host string, modelfile bool) error {
	if err := tinymodel.WriteFile(out, opts); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	digest, err := tinymodel.FileDigest(out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes, seed %d, f16 %v, dim %d, blocks %d, ffn %d, %s)\n", out, st.Size(), opts.Seed, opts.F16, opts.Dim, opts.Blocks, opts.FFN, digest)
	if modelfile {
		mf := out + ".Modelfile"
		if err := os.WriteFile(mf, []byte(tinymodel.Modelfile(out)), 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s\n", mf)
	}
	if name == "" {
		return nil
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("bad -host %q: want a URL like http://127.0.0.1:11434", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := tinymodel.Register(ctx, api.NewClient(u, http.DefaultClient), name, out); err != nil {
		return err
	}
	fmt.Printf("registered %s in Ollama at %s\n", name, u)
	return nil
}
